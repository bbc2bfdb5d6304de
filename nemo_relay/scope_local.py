"""Middleware and subscribers bound to one scope.

Every function takes the scope handle first and otherwise matches its global
twin in ``guardrails``, ``intercepts`` and ``subscribers``.  A scope-local
registration applies to every call whose current scope chain contains that
scope (including tasks and threads started under it) and disappears when the
scope is popped.  Names need only be unique within the scope.  The scope must
be on the current chain when registering (``ScopeNotFound`` otherwise).
Scope-local entries are merged with the global ones by priority; on a tie the
global entry comes first.
"""

from __future__ import annotations

from . import _kinds
from ._native import ScopeHandle
from ._native import scope_deregister_subscriber as deregister_subscriber
from ._native import scope_register_subscriber as register_subscriber
from ._registration import deregister as _deregister
from ._registration import register as _register
from ._types import (
    LLMConditional,
    LLMExecutionIntercept,
    LLMRequestIntercept,
    LLMRequestSanitizer,
    LLMResponseSanitizer,
    LLMStreamExecutionIntercept,
    ToolConditional,
    ToolExecutionIntercept,
    ToolRequestIntercept,
    ToolSanitizer,
)
# NeMo Relay's names for the callback types, importable from here too
from ._types import (
    Json as Json,
    LlmConditionalExecutionGuardrail as LlmConditionalExecutionGuardrail,
    LlmExecutionIntercept as LlmExecutionIntercept,
    LlmRequestIntercept as LlmRequestIntercept,
    LlmSanitizeRequestGuardrail as LlmSanitizeRequestGuardrail,
    LlmSanitizeResponseGuardrail as LlmSanitizeResponseGuardrail,
    LlmStreamExecutionIntercept as LlmStreamExecutionIntercept,
    ToolConditionalExecutionGuardrail as ToolConditionalExecutionGuardrail,
    ToolExecutionIntercept as ToolExecutionIntercept,
    ToolRequestIntercept as ToolRequestIntercept,
    ToolSanitizeGuardrail as ToolSanitizeGuardrail,
)

__all__ = ["register_subscriber", "deregister_subscriber", "register_tool_sanitize_request", "deregister_tool_sanitize_request", "register_tool_sanitize_response", "deregister_tool_sanitize_response", "register_tool_conditional_execution", "deregister_tool_conditional_execution", "register_llm_sanitize_request", "deregister_llm_sanitize_request", "register_llm_sanitize_response", "deregister_llm_sanitize_response", "register_llm_conditional_execution", "deregister_llm_conditional_execution", "register_tool_request", "deregister_tool_request", "register_tool_execution", "deregister_tool_execution", "register_llm_request", "deregister_llm_request", "register_llm_execution", "deregister_llm_execution", "register_llm_stream_execution", "deregister_llm_stream_execution"]


def register_tool_sanitize_request(scope_handle: ScopeHandle, name: str, priority: int, callback: ToolSanitizer) -> None:
    _register(_kinds.TOOL_SANITIZE_REQUEST, scope_handle, name, priority, False, callback)


def deregister_tool_sanitize_request(scope_handle: ScopeHandle, name: str) -> bool:
    return _deregister(_kinds.TOOL_SANITIZE_REQUEST, scope_handle, name)


def register_tool_sanitize_response(scope_handle: ScopeHandle, name: str, priority: int, callback: ToolSanitizer) -> None:
    _register(_kinds.TOOL_SANITIZE_RESPONSE, scope_handle, name, priority, False, callback)


def deregister_tool_sanitize_response(scope_handle: ScopeHandle, name: str) -> bool:
    return _deregister(_kinds.TOOL_SANITIZE_RESPONSE, scope_handle, name)


def register_tool_conditional_execution(scope_handle: ScopeHandle, name: str, priority: int, callback: ToolConditional) -> None:
    _register(_kinds.TOOL_CONDITIONAL, scope_handle, name, priority, False, callback)


def deregister_tool_conditional_execution(scope_handle: ScopeHandle, name: str) -> bool:
    return _deregister(_kinds.TOOL_CONDITIONAL, scope_handle, name)


def register_llm_sanitize_request(scope_handle: ScopeHandle, name: str, priority: int, callback: LLMRequestSanitizer) -> None:
    _register(_kinds.LLM_SANITIZE_REQUEST, scope_handle, name, priority, False, callback)


def deregister_llm_sanitize_request(scope_handle: ScopeHandle, name: str) -> bool:
    return _deregister(_kinds.LLM_SANITIZE_REQUEST, scope_handle, name)


def register_llm_sanitize_response(scope_handle: ScopeHandle, name: str, priority: int, callback: LLMResponseSanitizer) -> None:
    _register(_kinds.LLM_SANITIZE_RESPONSE, scope_handle, name, priority, False, callback)


def deregister_llm_sanitize_response(scope_handle: ScopeHandle, name: str) -> bool:
    return _deregister(_kinds.LLM_SANITIZE_RESPONSE, scope_handle, name)


def register_llm_conditional_execution(scope_handle: ScopeHandle, name: str, priority: int, callback: LLMConditional) -> None:
    _register(_kinds.LLM_CONDITIONAL, scope_handle, name, priority, False, callback)


def deregister_llm_conditional_execution(scope_handle: ScopeHandle, name: str) -> bool:
    return _deregister(_kinds.LLM_CONDITIONAL, scope_handle, name)


def register_tool_request(
    scope_handle: ScopeHandle, name: str, priority: int, break_chain: bool, callback: ToolRequestIntercept
) -> None:
    _register(_kinds.TOOL_REQUEST_INTERCEPT, scope_handle, name, priority, break_chain, callback)


def deregister_tool_request(scope_handle: ScopeHandle, name: str) -> bool:
    return _deregister(_kinds.TOOL_REQUEST_INTERCEPT, scope_handle, name)


def register_tool_execution(scope_handle: ScopeHandle, name: str, priority: int, callback: ToolExecutionIntercept) -> None:
    _register(_kinds.TOOL_EXECUTION, scope_handle, name, priority, False, callback)


def deregister_tool_execution(scope_handle: ScopeHandle, name: str) -> bool:
    return _deregister(_kinds.TOOL_EXECUTION, scope_handle, name)


def register_llm_request(
    scope_handle: ScopeHandle, name: str, priority: int, break_chain: bool, callback: LLMRequestIntercept
) -> None:
    _register(_kinds.LLM_REQUEST_INTERCEPT, scope_handle, name, priority, break_chain, callback)


def deregister_llm_request(scope_handle: ScopeHandle, name: str) -> bool:
    return _deregister(_kinds.LLM_REQUEST_INTERCEPT, scope_handle, name)


def register_llm_execution(scope_handle: ScopeHandle, name: str, priority: int, callback: LLMExecutionIntercept) -> None:
    _register(_kinds.LLM_EXECUTION, scope_handle, name, priority, False, callback)


def deregister_llm_execution(scope_handle: ScopeHandle, name: str) -> bool:
    return _deregister(_kinds.LLM_EXECUTION, scope_handle, name)


def register_llm_stream_execution(scope_handle: ScopeHandle, name: str, priority: int, callback: LLMStreamExecutionIntercept) -> None:
    _register(_kinds.LLM_STREAM_EXECUTION, scope_handle, name, priority, False, callback)


def deregister_llm_stream_execution(scope_handle: ScopeHandle, name: str) -> bool:
    return _deregister(_kinds.LLM_STREAM_EXECUTION, scope_handle, name)
