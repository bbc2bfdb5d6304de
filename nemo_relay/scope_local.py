"""Middleware and subscribers bound to one scope.

Each registration takes the scope handle first.  It applies to every call
whose current scope chain contains that scope, and it disappears when the
scope is popped.  The scope must be on the current chain when registering.
"""

from __future__ import annotations

from ._native import scope_deregister_subscriber as deregister_subscriber
from ._native import scope_register_subscriber as register_subscriber

__all__ = ["register_subscriber", "deregister_subscriber"]
