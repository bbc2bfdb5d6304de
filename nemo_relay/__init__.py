"""nemo_relay: scopes, ATOF lifecycle events, guardrails, intercepts and trusted
native plugins for agent runtimes, on a C11 runtime.

The current scope of Python code lives in a ContextVar holding an immutable
scope chain, so concurrent asyncio tasks and threads started with a copied
context never disturb each other's scopes (see ``use_scope_stack`` and
``fork_asyncio_context`` for explicit control).
"""

from __future__ import annotations

import atexit as _atexit
import contextvars as _contextvars
import os as _os
from types import TracebackType as _TracebackType

try:
    from . import _native
except ImportError:
    _here = _os.path.dirname(__file__)
    if any(f.startswith("_native.") and f.endswith(".so") for f in _os.listdir(_here)):
        raise
    # `python -m nemo_relay` run from a checkout puts the checkout first on sys.path
    raise ImportError(
        f"nemo_relay was imported from {_here}, a source tree without the built extension; "
        "run Python with -P (for example `python -P -m nemo_relay ...`) or from another "
        "directory so the installed package is used, or build in place with `pip install -e .`"
    ) from None
from ._native import (
    AnnotatedLLMRequest,
    AnnotatedLLMResponse,
    LLMHandle,
    LLMRequest,
    MarkEvent,
    ScopeEvent,
    ScopeHandle,
    ScopeStack,
    ToolHandle,
    create_scope_stack,
    propagate_scope_to_thread,
    scope_stack_active,
    set_thread_scope_stack,
)
from ._stack_cache import _scope_stack_var, get_scope_stack  # noqa: F401
from ._types import LLMAttributes, ScopeAttributes, ScopeType, ToolAttributes
from ._types import (  # type aliases, with NeMo Relay's names
    Json,
    JsonObject,
    JsonPrimitive,
    JsonValue,
    LlmConditionalExecutionGuardrail,
    LlmExecutionIntercept,
    LlmRequestIntercept,
    LlmSanitizeRequestGuardrail,
    LlmSanitizeResponseGuardrail,
    LlmStreamExecutionIntercept,
    ToolConditionalExecutionGuardrail,
    ToolExecutionIntercept,
    ToolRequestIntercept,
    ToolSanitizeGuardrail,
    UnsupportedBehavior,
)

__version__ = "0.5.0"

#: One lifecycle event delivered to subscribers.
Event = ScopeEvent | MarkEvent


def get_include() -> str:
    """Directory holding ``nemo_relay_plugin.h``, for building native plugins."""
    here = _os.path.join(_os.path.dirname(__file__), "include")
    if _os.path.exists(_os.path.join(here, "nemo_relay_plugin.h")):
        return here
    # an editable install runs from the source tree
    source = _os.path.join(_os.path.dirname(_os.path.dirname(__file__)), "csrc", "include")
    return source if _os.path.exists(_os.path.join(source, "nemo_relay_plugin.h")) else here


class use_scope_stack:
    """Make ``stack`` current for this thread and context, then restore both.

    On exit the thread's previous binding (stack and explicit flag) and the
    context's previous current scope are put back exactly, even if the block
    is left from another task (no ContextVar token is reset across frames).
    """

    __slots__ = ("_stack", "_binding", "_previous")

    def __init__(self, stack: ScopeStack) -> None:
        if not isinstance(stack, ScopeStack):
            raise TypeError(f"use_scope_stack expects a ScopeStack, not {type(stack).__name__}")
        self._stack = stack

    def __enter__(self) -> ScopeStack:
        self._binding = _native._capture_thread_binding()
        self._previous = _native._scope_var.get(None)
        set_thread_scope_stack(self._stack)
        return self._stack

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: _TracebackType | None,
    ) -> None:
        _native._restore_thread_binding(self._binding)
        _native._scope_var.set(self._previous)

    async def __aenter__(self) -> ScopeStack:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: _TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def fork_asyncio_context() -> _contextvars.Context:
    """A copy of the current context for ``asyncio.create_task(..., context=...)``.

    Scope chains are immutable, so the child task starts under the current
    scope and pushes only into its own chain; the parent never sees them.
    """
    _native.get_handle()  # make sure this context has chosen its chain
    return _contextvars.copy_context()


from . import errors, guardrails, intercepts, llm, plugin, scope, scope_local, subscribers, tools  # noqa: E402
from . import codecs, pricing  # noqa: E402
from . import typed  # noqa: E402  (after llm and tools, which it wraps)

_atexit.register(_native._shutdown)

from . import observability  # noqa: E402
from .observability import (  # noqa: E402
    AtifExporter,
    AtofEndpointConfig,
    AtofExporter,
    AtofExporterConfig,
    AtofExporterMode,
    OpenInferenceConfig,
    OpenInferenceSubscriber,
    OpenTelemetryConfig,
    OpenTelemetrySubscriber,
)

__all__ = [
    "AnnotatedLLMRequest",
    "AnnotatedLLMResponse",
    "AtifExporter",
    "AtofEndpointConfig",
    "AtofExporter",
    "AtofExporterConfig",
    "AtofExporterMode",
    "Event",
    "OpenInferenceConfig",
    "OpenInferenceSubscriber",
    "OpenTelemetryConfig",
    "OpenTelemetrySubscriber",
    "Json",
    "JsonObject",
    "JsonPrimitive",
    "JsonValue",
    "LlmConditionalExecutionGuardrail",
    "LlmExecutionIntercept",
    "LlmRequestIntercept",
    "LlmSanitizeRequestGuardrail",
    "LlmSanitizeResponseGuardrail",
    "LlmStreamExecutionIntercept",
    "ToolConditionalExecutionGuardrail",
    "ToolExecutionIntercept",
    "ToolRequestIntercept",
    "ToolSanitizeGuardrail",
    "UnsupportedBehavior",
    "LLMAttributes",
    "LLMHandle",
    "LLMRequest",
    "MarkEvent",
    "ScopeAttributes",
    "ScopeEvent",
    "ScopeHandle",
    "ScopeStack",
    "ScopeType",
    "ToolAttributes",
    "ToolHandle",
    "__version__",
    "create_scope_stack",
    "codecs",
    "pricing",
    "errors",
    "fork_asyncio_context",
    "get_include",
    "get_scope_stack",
    "guardrails",
    "intercepts",
    "llm",
    "observability",
    "plugin",
    "propagate_scope_to_thread",
    "scope",
    "scope_local",
    "scope_stack_active",
    "set_thread_scope_stack",
    "subscribers",
    "tools",
    "typed",
    "use_scope_stack",
]
