"""Global intercepts: request intercepts rewrite a call's input; execution
intercepts wrap the call like an onion.

Request intercepts are synchronous and run in priority order (ties by name);
after one registered with ``break_chain=True`` the rest are skipped.
Execution intercepts get ``(name, args, next)`` (tools, LLMs) or
``(request, next)`` (LLM streams); ``next(input)`` returns an awaitable of the
rest of the chain, which may be awaited zero times (short-circuit) or several
times (retry).  The lowest priority is the outermost layer.  They may be sync
(returning ``next(...)`` or a value) or async.
"""

from __future__ import annotations

from . import _kinds
from ._registration import deregister as _deregister
from ._registration import register as _register
from ._types import (
    Json,  # noqa: F401  (module attribute kept for compatibility)
    LLMExecutionIntercept,
    LLMRequestIntercept,
    LLMStreamExecutionIntercept,
    ToolExecutionIntercept,
    ToolRequestIntercept,
)
from ._types import (  # NeMo Relay's names, importable from here as there
    LlmExecutionIntercept,
    LlmRequestIntercept,
    LlmStreamExecutionIntercept,
)

__all__ = [
    "ToolRequestIntercept", "ToolExecutionIntercept", "LlmRequestIntercept",
    "LlmExecutionIntercept", "LlmStreamExecutionIntercept",
    "register_tool_request", "deregister_tool_request",
    "register_tool_execution", "deregister_tool_execution",
    "register_llm_request", "deregister_llm_request",
    "register_llm_execution", "deregister_llm_execution",
    "register_llm_stream_execution", "deregister_llm_stream_execution",
]


def register_tool_request(name: str, priority: int, break_chain: bool, callback: ToolRequestIntercept) -> None:
    """``callback(tool_name, args) -> args`` replaces the args the tool receives."""
    _register(_kinds.TOOL_REQUEST_INTERCEPT, None, name, priority, break_chain, callback)


def deregister_tool_request(name: str) -> bool:
    return _deregister(_kinds.TOOL_REQUEST_INTERCEPT, None, name)


def register_tool_execution(name: str, priority: int, callback: ToolExecutionIntercept) -> None:
    """``callback(tool_name, args, next) -> result | awaitable``."""
    _register(_kinds.TOOL_EXECUTION, None, name, priority, False, callback)


def deregister_tool_execution(name: str) -> bool:
    return _deregister(_kinds.TOOL_EXECUTION, None, name)


def register_llm_request(name: str, priority: int, break_chain: bool, callback: LLMRequestIntercept) -> None:
    """``callback(name, request, annotated) -> (request, annotated | None)``."""
    _register(_kinds.LLM_REQUEST_INTERCEPT, None, name, priority, break_chain, callback)


def deregister_llm_request(name: str) -> bool:
    return _deregister(_kinds.LLM_REQUEST_INTERCEPT, None, name)


def register_llm_execution(name: str, priority: int, callback: LLMExecutionIntercept) -> None:
    """``callback(name, request, next) -> response | awaitable``."""
    _register(_kinds.LLM_EXECUTION, None, name, priority, False, callback)


def deregister_llm_execution(name: str) -> bool:
    return _deregister(_kinds.LLM_EXECUTION, None, name)


def register_llm_stream_execution(name: str, priority: int, callback: LLMStreamExecutionIntercept) -> None:
    """``callback(request, next) -> async iterator | awaitable of one`` (no name
    argument, as upstream); ``await next(request)`` gives the downstream stream."""
    _register(_kinds.LLM_STREAM_EXECUTION, None, name, priority, False, callback)


def deregister_llm_stream_execution(name: str) -> bool:
    return _deregister(_kinds.LLM_STREAM_EXECUTION, None, name)
