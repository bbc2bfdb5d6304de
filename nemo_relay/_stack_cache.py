"""``get_scope_stack()``: one ScopeStack object per context and position.

The native ``get_scope_stack`` makes a new stack object at the current scope
on every call.  Code written for NeMo Relay compares the result by identity
(``get_scope_stack() is get_scope_stack()``), so the last object handed out
is remembered in the context and returned again while its top is still the
context's current scope.  Contexts copied from this one (tasks, ``run_sync``
workers) inherit it the same way.
"""

from __future__ import annotations

import contextvars

from . import _native
from ._native import ScopeStack

_scope_stack_var: contextvars.ContextVar[ScopeStack] = contextvars.ContextVar("nemo_relay.scope_stack")


def get_scope_stack() -> ScopeStack:
    """A stack whose top is the current scope of this context (the same
    object on every call until the current scope changes)."""
    current = _native.get_handle()
    stack = _scope_stack_var.get(None)
    if stack is None or stack.top is not current:
        stack = _native.get_scope_stack()
        _scope_stack_var.set(stack)
    return stack
