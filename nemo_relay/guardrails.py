"""Global guardrails: sanitizers (which change only what is recorded in
events) and conditional-execution guardrails (which may reject a call).

Callbacks are synchronous.  Lower priority runs first; ties run by name.
Sanitizers receive a private copy of the payload and fail closed: if one
raises or returns something that is not JSON, the recorded payload is null
and a ``RuntimeWarning`` names it.  A conditional guardrail returns ``None``
to allow the call or a ``str`` reason to reject it (``GuardrailRejected``).
"""

from __future__ import annotations

from . import _kinds
from ._registration import deregister as _deregister
from ._registration import register as _register
from ._types import (
    Json,  # noqa: F401  (module attribute kept for compatibility)
    LLMConditional,
    LLMRequestSanitizer,
    LLMResponseSanitizer,
    ToolConditional,
    ToolSanitizer,
)
# NeMo Relay's names for the callback types, importable from here as there
from ._types import (
    LlmConditionalExecutionGuardrail as LlmConditionalExecutionGuardrail,
    LlmSanitizeRequestGuardrail as LlmSanitizeRequestGuardrail,
    LlmSanitizeResponseGuardrail as LlmSanitizeResponseGuardrail,
    ToolConditionalExecutionGuardrail as ToolConditionalExecutionGuardrail,
    ToolSanitizeGuardrail as ToolSanitizeGuardrail,
)

__all__ = [
    "register_tool_sanitize_request", "deregister_tool_sanitize_request",
    "register_tool_sanitize_response", "deregister_tool_sanitize_response",
    "register_tool_conditional_execution", "deregister_tool_conditional_execution",
    "register_llm_sanitize_request", "deregister_llm_sanitize_request",
    "register_llm_sanitize_response", "deregister_llm_sanitize_response",
    "register_llm_conditional_execution", "deregister_llm_conditional_execution",
]


def register_tool_sanitize_request(name: str, priority: int, callback: ToolSanitizer) -> None:
    """``callback(tool_name, args) -> args`` recorded in the tool start event."""
    _register(_kinds.TOOL_SANITIZE_REQUEST, None, name, priority, False, callback)


def deregister_tool_sanitize_request(name: str) -> bool:
    return _deregister(_kinds.TOOL_SANITIZE_REQUEST, None, name)


def register_tool_sanitize_response(name: str, priority: int, callback: ToolSanitizer) -> None:
    """``callback(tool_name, result) -> result`` recorded in the tool end event."""
    _register(_kinds.TOOL_SANITIZE_RESPONSE, None, name, priority, False, callback)


def deregister_tool_sanitize_response(name: str) -> bool:
    return _deregister(_kinds.TOOL_SANITIZE_RESPONSE, None, name)


def register_tool_conditional_execution(name: str, priority: int, callback: ToolConditional) -> None:
    """``callback(tool_name, args) -> None | reason``; a reason rejects the call."""
    _register(_kinds.TOOL_CONDITIONAL, None, name, priority, False, callback)


def deregister_tool_conditional_execution(name: str) -> bool:
    return _deregister(_kinds.TOOL_CONDITIONAL, None, name)


def register_llm_sanitize_request(name: str, priority: int, callback: LLMRequestSanitizer) -> None:
    """``callback(request) -> LLMRequest`` recorded in the LLM start event."""
    _register(_kinds.LLM_SANITIZE_REQUEST, None, name, priority, False, callback)


def deregister_llm_sanitize_request(name: str) -> bool:
    return _deregister(_kinds.LLM_SANITIZE_REQUEST, None, name)


def register_llm_sanitize_response(name: str, priority: int, callback: LLMResponseSanitizer) -> None:
    """``callback(response) -> response`` recorded in the LLM end event (and chunk marks)."""
    _register(_kinds.LLM_SANITIZE_RESPONSE, None, name, priority, False, callback)


def deregister_llm_sanitize_response(name: str) -> bool:
    return _deregister(_kinds.LLM_SANITIZE_RESPONSE, None, name)


def register_llm_conditional_execution(name: str, priority: int, callback: LLMConditional) -> None:
    """``callback(request) -> None | reason``; a reason rejects the call."""
    _register(_kinds.LLM_CONDITIONAL, None, name, priority, False, callback)


def deregister_llm_conditional_execution(name: str) -> bool:
    return _deregister(_kinds.LLM_CONDITIONAL, None, name)
