"""Shared registration entry points for guardrails, intercepts and scope_local.

The binding checks the arguments (the same checks as a plugin's
``PluginContext``): name a str, priority a 32-bit int, a callable, and a
regular (not async) function for guardrails and request intercepts.
"""

from __future__ import annotations

from ._native import _deregister as deregister
from ._native import _register as register

__all__ = ["register", "deregister"]
