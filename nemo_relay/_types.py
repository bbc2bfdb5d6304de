"""Small value types shared by the package (scope types, attribute flags),
and the type aliases that name payloads and callback signatures."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, Literal, Self, TypeAlias

# The package initializes nemo_relay._native before this module (which the
# native code itself imports only lazily), so this import never cycles.
from ._native import LLMRequest, MarkEvent, ScopeEvent

__all__ = ["ScopeType", "ScopeAttributes", "ToolAttributes", "LLMAttributes"]

#: A JSON-compatible value (None, bool, int, float, str, list, dict with str keys).
#: Left open (``Any``) so that values built elsewhere, such as a ``dict[str, int]``,
#: type-check where a payload is expected; ``JsonValue`` is the exact shape.
Json: TypeAlias = Any
#: A JSON leaf.
JsonPrimitive: TypeAlias = str | int | float | bool | None
#: A JSON value, exactly: leaves, lists and str-keyed dicts of JSON values.
JsonValue: TypeAlias = JsonPrimitive | list["JsonValue"] | dict[str, "JsonValue"]
#: A JSON object.
JsonObject: TypeAlias = dict[str, JsonValue]
#: What a configuration helper does with an unknown field or value.
UnsupportedBehavior: TypeAlias = Literal["ignore", "warn", "error"]


class ScopeType(enum.IntEnum):
    """What kind of work a scope represents; recorded as the event category."""

    Agent = 0
    Function = 1
    Tool = 2
    Llm = 3
    Retriever = 4
    Embedder = 5
    Reranker = 6
    Guardrail = 7
    Evaluator = 8
    Custom = 9
    Unknown = 10

    def __repr__(self) -> str:
        return f"ScopeType.{self.name}"


class _Flags:
    """Immutable bit flags with ``|``, ``&`` and ``is_*`` properties."""

    __slots__ = ("_value",)
    _NAMES: ClassVar[dict[int, str]] = {}

    def __init__(self, value: int = 0) -> None:
        if isinstance(value, _Flags):
            value = value.value
        if not isinstance(value, int):
            raise TypeError(f"{type(self).__name__} value must be an int")
        self._value = int(value)

    @property
    def value(self) -> int:
        return self._value

    def __or__(self, other: Self | int) -> Self:
        if isinstance(other, (type(self), int)):
            return type(self)(self._value | int(other))
        return NotImplemented

    __ror__ = __or__

    def __and__(self, other: Self | int) -> Self:
        if isinstance(other, (type(self), int)):
            return type(self)(self._value & int(other))
        return NotImplemented

    __rand__ = __and__

    def __int__(self) -> int:
        return self._value

    def __index__(self) -> int:
        return self._value

    def __bool__(self) -> bool:
        return self._value != 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, type(self)):
            return self._value == other._value
        if isinstance(other, int):
            return self._value == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._value))

    def __repr__(self) -> str:
        names = [n for bit, n in sorted(self._NAMES.items()) if self._value & bit]
        return f"{type(self).__name__}({'|'.join(names) or self._value})"


class ScopeAttributes(_Flags):
    """Scope flags: ``PARALLEL`` (1) and ``RELOCATABLE`` (2)."""

    __slots__ = ()
    _NAMES = {1: "PARALLEL", 2: "RELOCATABLE"}
    PARALLEL: ClassVar["ScopeAttributes"]
    RELOCATABLE: ClassVar["ScopeAttributes"]

    @property
    def is_parallel(self) -> bool:
        return bool(self._value & 1)

    @property
    def is_relocatable(self) -> bool:
        return bool(self._value & 2)


class ToolAttributes(_Flags):
    """Tool call flags: ``REMOTE`` (1)."""

    __slots__ = ()
    _NAMES = {1: "REMOTE"}
    REMOTE: ClassVar["ToolAttributes"]

    @property
    def is_remote(self) -> bool:
        return bool(self._value & 1)


class LLMAttributes(_Flags):
    """LLM call flags: ``STATEFUL`` (1) and ``STREAMING`` (2)."""

    __slots__ = ()
    _NAMES = {1: "STATEFUL", 2: "STREAMING"}
    STATEFUL: ClassVar["LLMAttributes"]
    STREAMING: ClassVar["LLMAttributes"]

    @property
    def is_stateful(self) -> bool:
        return bool(self._value & 1)

    @property
    def is_streaming(self) -> bool:
        return bool(self._value & 2)


ScopeAttributes.PARALLEL = ScopeAttributes(1)
ScopeAttributes.RELOCATABLE = ScopeAttributes(2)
ToolAttributes.REMOTE = ToolAttributes(1)
LLMAttributes.STATEFUL = LLMAttributes(1)
LLMAttributes.STREAMING = LLMAttributes(2)


# ---- callback signatures (global, scope-local and PluginContext registrations) ----

#: ``callback(event)``; the return value is ignored.
Subscriber: TypeAlias = Callable[[ScopeEvent | MarkEvent], object]
#: ``callback(tool_name, args_or_result) -> args_or_result`` (what is recorded).
ToolSanitizer: TypeAlias = Callable[[str, Json], Json]
#: ``callback(tool_name, args) -> None | reason``; a reason rejects the call.
ToolConditional: TypeAlias = Callable[[str, Json], str | None]
#: ``callback(request) -> request`` (what is recorded).
LLMRequestSanitizer: TypeAlias = Callable[[LLMRequest], LLMRequest]
#: ``callback(response) -> response`` (what is recorded).
LLMResponseSanitizer: TypeAlias = Callable[[Json], Json]
#: ``callback(request) -> None | reason``; a reason rejects the call.
LLMConditional: TypeAlias = Callable[[LLMRequest], str | None]
#: ``callback(tool_name, args) -> args`` (what the tool receives).
ToolRequestIntercept: TypeAlias = Callable[[str, Json], Json]
#: The rest of a tool execution chain: ``await next(args)``.
ToolNext: TypeAlias = Callable[[Json], Awaitable[Json]]
#: ``callback(tool_name, args, next) -> result | awaitable of one``.
ToolExecutionIntercept: TypeAlias = Callable[[str, Json, ToolNext], Json | Awaitable[Json]]
#: ``callback(name, request, annotated) -> (request, annotated | None)``.
LLMRequestIntercept: TypeAlias = Callable[[str, LLMRequest, Json], tuple[LLMRequest, Json]]
#: The rest of an LLM execution chain: ``await next(request)``.
LLMNext: TypeAlias = Callable[[LLMRequest], Awaitable[Json]]
#: ``callback(name, request, next) -> response | awaitable of one``.
LLMExecutionIntercept: TypeAlias = Callable[[str, LLMRequest, LLMNext], Json | Awaitable[Json]]
#: The rest of an LLM stream chain: ``await next(request)`` gives the downstream stream.
LLMStreamNext: TypeAlias = Callable[[LLMRequest], Awaitable[AsyncIterator[Json]]]
#: ``callback(request, next) -> async iterator | awaitable of one`` (no name argument).
LLMStreamExecutionIntercept: TypeAlias = Callable[
    [LLMRequest, LLMStreamNext], AsyncIterator[Json] | Awaitable[AsyncIterator[Json]]
]
#: A tool function: ``func(args) -> result`` (sync or async).
ToolFunction: TypeAlias = Callable[[Json], Json | Awaitable[Json]]
#: An LLM function: ``func(request) -> response`` (sync or async).
LLMFunction: TypeAlias = Callable[[LLMRequest], Json | Awaitable[Json]]
#: A streaming LLM function: ``func(request) -> async iterator of chunks`` (or an awaitable of one).
LLMStreamFunction: TypeAlias = Callable[[LLMRequest], AsyncIterator[Json] | Awaitable[AsyncIterator[Json]]]

# ---- NeMo Relay's names for the same signatures (code written for it imports these) ----

ToolSanitizeGuardrail: TypeAlias = ToolSanitizer
ToolConditionalExecutionGuardrail: TypeAlias = ToolConditional
LlmSanitizeRequestGuardrail: TypeAlias = LLMRequestSanitizer
LlmSanitizeResponseGuardrail: TypeAlias = LLMResponseSanitizer
LlmConditionalExecutionGuardrail: TypeAlias = LLMConditional
LlmRequestIntercept: TypeAlias = LLMRequestIntercept
LlmExecutionIntercept: TypeAlias = LLMExecutionIntercept
LlmStreamExecutionIntercept: TypeAlias = LLMStreamExecutionIntercept

