from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar, overload

from ._native import LLMRequest, ScopeHandle
from .codecs import LlmCodec, LlmResponseCodec
from ._types import Json, LLMAttributes, ToolAttributes
from .llm import LlmStream

__all__ = [
    "BestEffortAnyCodec",
    "Codec",
    "ConversionError",
    "DataclassCodec",
    "JsonPassthrough",
    "PydanticCodec",
    "codec_for",
    "llm_execute",
    "llm_stream_execute",
    "register_codec",
    "tool_execute",
    "type_name",
]

T = TypeVar("T")
TArgs = TypeVar("TArgs")
TResult = TypeVar("TResult")
TResponse = TypeVar("TResponse")
TResponseChunk = TypeVar("TResponseChunk")

def type_name(tp: object) -> str: ...

class ConversionError(ValueError):
    path: str
    expected: str
    value: object
    detail: str | None
    context: str | None
    def __init__(
        self, path: str, expected: str, value: object, detail: str | None = None, context: str | None = None
    ) -> None: ...
    def within(self, context: str) -> ConversionError: ...

class Codec(Generic[T]):
    def to_json(self, value: T) -> Json: ...
    def from_json(self, data: Json) -> T: ...

class JsonPassthrough(Codec[Json]):
    def to_json(self, value: Json) -> Json: ...
    def from_json(self, data: Json) -> Json: ...

class DataclassCodec(Codec[T]):
    def __init__(self, dc_cls: type[T]) -> None: ...

class PydanticCodec(Codec[T]):
    def __init__(self, model_cls: type[T]) -> None: ...

class BestEffortAnyCodec(Codec[object]):
    def to_json(self, value: object) -> Json: ...
    def from_json(self, data: Json) -> object: ...

def register_codec(tp: type[T], codec: Codec[T] | None) -> None: ...
@overload
def codec_for(tp: type[T]) -> Codec[T]: ...
@overload
def codec_for(tp: Any) -> Codec[Any]: ...
@overload
async def tool_execute(
    name: str,
    args: TArgs,
    func: Callable[[TArgs], Awaitable[TResult]],
    args_codec: Codec[TArgs] | None = None,
    result_codec: Codec[TResult] | None = None,
    *,
    handle: ScopeHandle | None = None,
    attributes: ToolAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    tool_call_id: str | None = None,
) -> TResult: ...
@overload
async def tool_execute(
    name: str,
    args: TArgs,
    func: Callable[[TArgs], TResult],
    args_codec: Codec[TArgs] | None = None,
    result_codec: Codec[TResult] | None = None,
    *,
    handle: ScopeHandle | None = None,
    attributes: ToolAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    tool_call_id: str | None = None,
) -> TResult: ...
@overload
async def llm_execute(
    name: str,
    request: LLMRequest,
    func: Callable[[LLMRequest], Awaitable[TResponse]],
    response_json_codec: Codec[TResponse] | None = None,
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    model_name: str | None = None,
    codec: LlmCodec | None = None,
    response_codec: LlmResponseCodec | None = None,
) -> TResponse: ...
@overload
async def llm_execute(
    name: str,
    request: LLMRequest,
    func: Callable[[LLMRequest], TResponse],
    response_json_codec: Codec[TResponse] | None = None,
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    model_name: str | None = None,
    codec: LlmCodec | None = None,
    response_codec: LlmResponseCodec | None = None,
) -> TResponse: ...
async def llm_stream_execute(
    name: str,
    request: LLMRequest,
    func: Callable[[LLMRequest], AsyncIterator[TResponseChunk]],
    collector: Callable[[TResponseChunk], object],
    finalizer: Callable[[], TResponse],
    chunk_json_codec: Codec[TResponseChunk],
    response_json_codec: Codec[TResponse],
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    model_name: str | None = None,
    codec: LlmCodec | None = None,
    response_codec: LlmResponseCodec | None = None,
) -> LlmStream: ...
