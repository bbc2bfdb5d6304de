# Type stubs for nemo_relay._native, the C extension (csrc/python/*.c).
#
# Argument conventions of the C functions, mirrored here:
#   - METH_O / METH_FASTCALL functions take positional-only arguments (``/``);
#   - METH_FASTCALL|METH_KEYWORDS functions accept their leading arguments
#     positionally or by keyword and everything else keyword-only (``*``);
#   - payloads (args, data, metadata, input, output, results) are any JSON
#     value (``Json``); timestamps are timezone-aware datetimes.
# Names that exist only for the type checker are marked @type_check_only.

import asyncio
import os
from collections.abc import Callable, Coroutine, Sequence
from contextvars import ContextVar
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar, Final, Literal, Self, TypedDict, final, type_check_only

from nemo_relay._types import (
    Json,
    LLMAttributes,
    LLMConditional,
    LLMExecutionIntercept,
    LLMFunction,
    LLMRequestIntercept,
    LLMRequestSanitizer,
    LLMResponseSanitizer,
    LLMStreamExecutionIntercept,
    LLMStreamFunction,
    ScopeAttributes,
    ScopeType,
    Subscriber,
    ToolAttributes,
    ToolConditional,
    ToolExecutionIntercept,
    ToolFunction,
    ToolRequestIntercept,
    ToolSanitizer,
)
from nemo_relay.plugin import ConfigReport, Plugin

#: The relay version this runtime implements (e.g. "0.5.0").
RELAY_VERSION: Final[str]

#: The current scope of this context (unset until a context first needs one).
_scope_var: ContextVar[ScopeHandle | None]

# ---- handles and stacks ------------------------------------------------------------

@final
class ScopeHandle:
    """An open or finished scope (immutable; not instantiable from Python)."""

    @property
    def uuid(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def scope_type(self) -> ScopeType: ...
    @property
    def attributes(self) -> ScopeAttributes: ...
    @property
    def parent_uuid(self) -> str | None: ...
    @property
    def data(self) -> Json: ...
    @property
    def metadata(self) -> Json: ...
    @property
    def start_time(self) -> datetime: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class ToolHandle:
    """A tool call started with ``tools.call`` (immutable)."""

    @property
    def uuid(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def attributes(self) -> ToolAttributes: ...
    @property
    def parent_uuid(self) -> str | None: ...
    @property
    def data(self) -> Json: ...
    @property
    def metadata(self) -> Json: ...
    @property
    def start_time(self) -> datetime: ...
    @property
    def tool_call_id(self) -> str | None: ...
    @property
    def model_name(self) -> str | None: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class LLMHandle:
    """An LLM call started with ``llm.call`` (immutable)."""

    @property
    def uuid(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def attributes(self) -> LLMAttributes: ...
    @property
    def parent_uuid(self) -> str | None: ...
    @property
    def data(self) -> Json: ...
    @property
    def metadata(self) -> Json: ...
    @property
    def start_time(self) -> datetime: ...
    @property
    def tool_call_id(self) -> str | None: ...
    @property
    def model_name(self) -> str | None: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class ScopeStack:
    """A scope stack: a cell holding the top of a scope chain."""

    @property
    def top(self) -> ScopeHandle: ...

# ---- events ------------------------------------------------------------------------

@final
class ScopeEvent:
    """A scope start or end event (ATOF 0.1), immutable.  Payload properties
    return a fresh copy on every access."""

    @property
    def kind(self) -> Literal["scope"]: ...
    @property
    def scope_category(self) -> Literal["start", "end"]: ...
    @property
    def atof_version(self) -> str: ...
    @property
    def uuid(self) -> str: ...
    @property
    def parent_uuid(self) -> str | None: ...
    @property
    def timestamp(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def data(self) -> Json: ...
    @property
    def data_schema(self) -> dict[str, Any] | None: ...
    @property
    def metadata(self) -> Json: ...
    @property
    def attributes(self) -> list[str]: ...
    @property
    def category(self) -> str: ...
    @property
    def category_profile(self) -> dict[str, Any] | None: ...
    @property
    def annotated_request(self) -> Json: ...
    @property
    def annotated_response(self) -> Json: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self) -> str: ...

@final
class MarkEvent:
    """A mark event (ATOF 0.1), immutable."""

    @property
    def kind(self) -> Literal["mark"]: ...
    @property
    def atof_version(self) -> str: ...
    @property
    def uuid(self) -> str: ...
    @property
    def parent_uuid(self) -> str | None: ...
    @property
    def timestamp(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def data(self) -> Json: ...
    @property
    def data_schema(self) -> dict[str, Any] | None: ...
    @property
    def metadata(self) -> Json: ...
    @property
    def category(self) -> str | None: ...
    @property
    def category_profile(self) -> dict[str, Any] | None: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self) -> str: ...

# ---- LLM requests ------------------------------------------------------------------

@final
class LLMRequest:
    """An immutable LLM request; ``headers`` and ``content`` return copies."""

    def __new__(cls, headers: dict[str, Any], content: Json) -> Self: ...
    @property
    def headers(self) -> dict[str, Any]: ...
    @property
    def content(self) -> Json: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

def _llm_request(headers: dict[str, Any], content: Json, /) -> LLMRequest: ...

# ---- scopes ------------------------------------------------------------------------

def scope_push(
    name: str,
    scope_type: ScopeType | int,
    *,
    handle: ScopeHandle | None = None,
    attributes: ScopeAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    input: Json = None,
    timestamp: datetime | None = None,
) -> ScopeHandle: ...
def scope_pop(
    handle: ScopeHandle,
    *,
    output: Json = None,
    metadata: Json = None,
    timestamp: datetime | None = None,
) -> None: ...
def scope_event(
    name: str,
    *,
    handle: ScopeHandle | None = None,
    data: Json = None,
    metadata: Json = None,
    timestamp: datetime | None = None,
) -> None: ...
def get_handle() -> ScopeHandle: ...
def create_scope_stack() -> ScopeStack: ...
def get_scope_stack() -> ScopeStack: ...
def set_thread_scope_stack(stack: ScopeStack, /) -> None: ...
def scope_stack_active() -> bool: ...
def propagate_scope_to_thread() -> ScopeStack: ...

@final
@type_check_only
class _ThreadBinding:
    """An opaque capsule: a thread's stack binding (for use_scope_stack)."""

def _capture_thread_binding() -> _ThreadBinding: ...
def _restore_thread_binding(binding: _ThreadBinding, /) -> None: ...

# ---- subscribers -------------------------------------------------------------------

def subscribers_register(name: str, callback: Subscriber, /) -> None: ...
def subscribers_deregister(name: str, /) -> bool: ...
def subscribers_flush() -> None: ...
def scope_register_subscriber(scope_handle: ScopeHandle, name: str, callback: Subscriber, /) -> None: ...
def scope_deregister_subscriber(scope_handle: ScopeHandle, name: str, /) -> bool: ...

# ---- middleware registries ---------------------------------------------------------

#: Middleware kinds as the native registry numbers them (the `kind` of _register).
MW_SUBSCRIBER: Final[int]
MW_TOOL_SANITIZE_REQUEST: Final[int]
MW_TOOL_SANITIZE_RESPONSE: Final[int]
MW_TOOL_CONDITIONAL: Final[int]
MW_TOOL_REQUEST_INTERCEPT: Final[int]
MW_TOOL_EXECUTION: Final[int]
MW_LLM_SANITIZE_REQUEST: Final[int]
MW_LLM_SANITIZE_RESPONSE: Final[int]
MW_LLM_CONDITIONAL: Final[int]
MW_LLM_REQUEST_INTERCEPT: Final[int]
MW_LLM_EXECUTION: Final[int]
MW_LLM_STREAM_EXECUTION: Final[int]


def _register(
    kind: int,
    scope_handle: ScopeHandle | None,
    name: str,
    priority: int,
    break_chain: bool,
    callback: Callable[..., Any],
    /,
) -> None: ...
def _deregister(kind: int, scope_handle: ScopeHandle | None, name: str, /) -> bool: ...

@type_check_only
class _RegistrationInfo(TypedDict):
    kind: str
    name: str
    priority: int
    break_chain: bool
    native: bool

def _registrations() -> list[_RegistrationInfo]: ...
def _registration_count() -> int: ...
def _shutdown() -> None: ...

# ---- tool calls --------------------------------------------------------------------

def tool_execute(
    name: str,
    args: Json,
    func: ToolFunction,
    *,
    handle: ScopeHandle | None = None,
    attributes: ToolAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    tool_call_id: str | None = None,
) -> Coroutine[Any, Any, Json]: ...
def tool_execute_sync(
    name: str,
    args: Json,
    func: ToolFunction,
    *,
    handle: ScopeHandle | None = None,
    attributes: ToolAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    tool_call_id: str | None = None,
) -> Json: ...
def tool_call(
    name: str,
    args: Json,
    *,
    handle: ScopeHandle | None = None,
    attributes: ToolAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    tool_call_id: str | None = None,
    timestamp: datetime | None = None,
) -> ToolHandle: ...
def tool_call_end(
    handle: ToolHandle,
    result: Json,
    *,
    data: Json = None,
    metadata: Json = None,
    timestamp: datetime | None = None,
) -> None: ...
def tool_request_intercepts(name: str, args: Json, /) -> Json: ...
def tool_conditional_execution(name: str, args: Json, /) -> None: ...

# ---- LLM calls ---------------------------------------------------------------------

def llm_execute(
    name: str,
    request: LLMRequest,
    func: LLMFunction,
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    model_name: str | None = None,
) -> Coroutine[Any, Any, Json]: ...
def llm_execute_sync(
    name: str,
    request: LLMRequest,
    func: LLMFunction,
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    model_name: str | None = None,
) -> Json: ...
def llm_call(
    name: str,
    request: LLMRequest,
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    model_name: str | None = None,
    timestamp: datetime | None = None,
) -> LLMHandle: ...
def llm_call_end(
    handle: LLMHandle,
    response: Json,
    *,
    data: Json = None,
    metadata: Json = None,
    annotated_response: Json = None,
    timestamp: datetime | None = None,
) -> None: ...
def llm_request_intercepts(name: str, request: LLMRequest, /) -> LLMRequest: ...
def llm_conditional_execution(request: LLMRequest, /) -> None: ...

# ---- LLM streams (driven by nemo_relay.llm.LlmStream) ------------------------------

@final
@type_check_only
class _CallState:
    """What the Python-side pieces of one streaming LLM call share."""

@final
@type_check_only
class _StreamHandle:
    """A runtime stream produced through native stream intercepts."""

def llm_stream_begin(
    name: str,
    request: LLMRequest,
    func: LLMStreamFunction,
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    model_name: str | None = None,
) -> _CallState: ...
def _call_input(state: _CallState, /) -> LLMRequest: ...
def _stream_entries(state: _CallState, /) -> list[LLMStreamExecutionIntercept | None]: ...
def llm_stream_chunk(state: _CallState, chunk: Json, /) -> None: ...
def llm_stream_end(state: _CallState, outcome: Json | BaseException, final: Json = None, /) -> None: ...
def _open_stream_from(state: _CallState, index: int, request: LLMRequest, /) -> asyncio.Future[_StreamHandle]: ...
def _stream_poll(
    handle: _StreamHandle, loop: asyncio.AbstractEventLoop, /
) -> asyncio.Future[tuple[Literal[True], None] | tuple[Literal[False], Json]]: ...
def _stream_close(handle: _StreamHandle, loop: asyncio.AbstractEventLoop, /) -> asyncio.Future[None]: ...

# ---- plugins -----------------------------------------------------------------------

@final
class PluginContext:
    """Registers a plugin component's middleware; valid only during
    ``Plugin.register``.  Names are prefixed with ``namespace``."""

    @property
    def namespace(self) -> str | None: ...
    def register_subscriber(self, name: str, callback: Subscriber, /) -> None: ...
    def register_tool_sanitize_request_guardrail(self, name: str, priority: int, callback: ToolSanitizer, /) -> None: ...
    def register_tool_sanitize_response_guardrail(self, name: str, priority: int, callback: ToolSanitizer, /) -> None: ...
    def register_tool_conditional_execution_guardrail(
        self, name: str, priority: int, callback: ToolConditional, /
    ) -> None: ...
    def register_tool_request_intercept(
        self, name: str, priority: int, break_chain: bool, callback: ToolRequestIntercept, /
    ) -> None: ...
    def register_tool_execution_intercept(
        self, name: str, priority: int, callback: ToolExecutionIntercept, /
    ) -> None: ...
    def register_llm_sanitize_request_guardrail(
        self, name: str, priority: int, callback: LLMRequestSanitizer, /
    ) -> None: ...
    def register_llm_sanitize_response_guardrail(
        self, name: str, priority: int, callback: LLMResponseSanitizer, /
    ) -> None: ...
    def register_llm_conditional_execution_guardrail(
        self, name: str, priority: int, callback: LLMConditional, /
    ) -> None: ...
    def register_llm_request_intercept(
        self, name: str, priority: int, break_chain: bool, callback: LLMRequestIntercept, /
    ) -> None: ...
    def register_llm_execution_intercept(
        self, name: str, priority: int, callback: LLMExecutionIntercept, /
    ) -> None: ...
    def register_llm_stream_execution_intercept(
        self, name: str, priority: int, callback: LLMStreamExecutionIntercept, /
    ) -> None: ...

@type_check_only
class _NativePluginInfo(TypedDict):
    kind: str
    library: str
    allows_multiple_components: bool
    abi_version: int

@final
class NativePluginActivation:
    """Native plugins loaded by ``load_native_plugins``; ``close()`` unloads them."""

    @property
    def plugins(self) -> list[_NativePluginInfo]: ...
    @property
    def kinds(self) -> tuple[str, ...]: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def is_empty(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> Literal[False]: ...

def plugin_validate(config: dict[str, Any], /) -> ConfigReport: ...
def plugin_initialize(config: dict[str, Any], lease: int | None = None, /) -> ConfigReport: ...
def plugin_clear(lease: int | None = None, /) -> None: ...
def plugin_report() -> ConfigReport | None: ...
def plugin_list_kinds() -> list[str]: ...
def plugin_lease_acquire() -> int: ...
def plugin_lease_release(lease: int | None, /) -> None: ...
def plugin_register(plugin_kind: str, plugin: Plugin, /) -> None: ...
def plugin_deregister(plugin_kind: str, /) -> bool: ...
def resolve_manifest(manifest_ref: str | os.PathLike[str], /) -> str: ...
def check_manifest(
    path: str,
    json: str | None,
    expected_id: str | None = None,
    trust_writable: bool = False,
    probe_library: bool = True,
    /,
) -> dict[str, Any]: ...
def manifest_warnings(path: str, json: str | None, /) -> list[str]: ...
def load_native_plugins(specs: Sequence[tuple[str, str, str | None, bool]], /) -> NativePluginActivation: ...

class EventQueue:
    """The bounded queue between emitting threads and an exporter's drain thread."""

    def __init__(self, capacity: int = 2048, close_when_unregistered: bool = False) -> None: ...
    def register(self, name: str, /) -> None: ...
    def get(self, max_items: int = 512, timeout: float | None = None) -> list[ScopeEvent | MarkEvent]: ...
    def task_done(self, n: int, /) -> None: ...
    def wait_idle(self, timeout: float | None = None) -> bool: ...
    def close(self) -> None: ...
    def take_new_drops(self) -> int: ...
    def stats(self) -> dict[str, Any]: ...
