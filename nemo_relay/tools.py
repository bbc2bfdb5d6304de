"""Tool calls: the managed pipeline (``execute``), its sync twin, manual
start/end, and the request-intercept and conditional chains on their own.

``await tools.execute(name, args, func)`` runs the conditional guardrails, the
request intercepts, records the start event (sanitized args), runs the
execution intercepts around ``func(args)`` (sync or async), records the end
event (sanitized result, ``otel.status_code``) and returns the raw result.
A rejection raises ``GuardrailRejected``; the function's own exception is
re-raised unchanged after an ERROR end event.
"""

from __future__ import annotations

from ._native import ToolHandle
from ._native import tool_call as call
from ._native import tool_call_end as call_end
from ._native import tool_conditional_execution as conditional_execution
from ._native import tool_execute as execute
from ._native import tool_execute_sync as execute_sync
from ._native import tool_request_intercepts as request_intercepts
from ._types import ToolAttributes

__all__ = [
    "ToolAttributes",
    "ToolHandle",
    "call",
    "call_end",
    "conditional_execution",
    "execute",
    "execute_sync",
    "request_intercepts",
]
