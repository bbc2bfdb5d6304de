"""LLM calls: the managed pipeline (``execute``, ``stream_execute``), its sync
twin, manual start/end, and the request-intercept and conditional chains.
``codec=`` / ``response_codec=`` (see ``nemo_relay.codecs``) make the calls
understood: annotated requests for intercepts, annotated responses (usage,
cost) on end events.

Requests are ``LLMRequest(headers, content)`` objects; on the wire they are
``{"headers": {...}, "content": ...}``.
"""

from __future__ import annotations

import asyncio
import inspect
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from . import _native
from ._native import LLMHandle, LLMRequest, ScopeHandle
from ._native import llm_call as call
from ._native import llm_call_end as call_end
from ._native import llm_conditional_execution as conditional_execution
from ._native import llm_execute as execute
from ._native import llm_execute_sync as execute_sync
from ._native import llm_request_intercepts as request_intercepts
from ._types import Json as Json
from ._types import JsonObject as JsonObject
from ._types import LLMAttributes, LLMStreamExecutionIntercept, LLMStreamFunction

if TYPE_CHECKING:
    from .codecs import LlmCodec, LlmResponseCodec

__all__ = [
    "LLMAttributes",
    "LLMHandle",
    "LLMRequest",
    "LlmStream",
    "call",
    "call_end",
    "conditional_execution",
    "execute",
    "execute_sync",
    "request_intercepts",
    "stream_execute",
]


async def _as_async_iterator(value: Any, what: str) -> AsyncIterator[Json]:
    if inspect.isawaitable(value):
        value = await value
    if not hasattr(value, "__anext__"):
        raise TypeError(f"{what} must return an async iterator, not {type(value).__name__}")
    return cast("AsyncIterator[Json]", value)


class _NativeStream:
    """A stream produced through native stream intercepts; each chunk is
    polled on a worker thread, never on the event loop.  It is closed (the
    producers' drop run) as soon as it ends or fails, not when collected."""

    __slots__ = ("_handle", "_loop", "_closed")

    def __init__(self, handle: _native._StreamHandle) -> None:
        self._handle = handle
        self._loop = asyncio.get_running_loop()
        self._closed = False

    def __aiter__(self) -> "_NativeStream":
        return self

    async def __anext__(self) -> Json:
        if self._closed:
            raise StopAsyncIteration
        try:
            done, chunk = await _native._stream_poll(self._handle, self._loop)
        except BaseException:
            await self.aclose()
            raise
        if done:
            await self.aclose()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await _native._stream_close(self._handle, self._loop)


async def _open_native(state: _native._CallState, index: int, request: LLMRequest) -> AsyncIterator[Json]:
    """The stream of the chain from a native intercept at `index` on."""
    return _NativeStream(await _native._open_stream_from(state, index, request))


_Next = Callable[[LLMRequest], Awaitable[AsyncIterator[Json]]]


def _next(open_rest: _Next) -> _Next:
    """The `next` a Python stream intercept gets: checks its argument, then
    opens the rest of the chain with `open_rest`."""

    def next_(req: LLMRequest) -> Awaitable[AsyncIterator[Json]]:
        if not isinstance(req, LLMRequest):
            raise TypeError(f"next() expects an LLMRequest, not {type(req).__name__}")
        return open_rest(req)

    return next_


def _native_next(state: _native._CallState, index: int) -> _Next:
    """The `next` of a Python stream intercept a native one calls."""
    return _next(lambda req: _open_native(state, index, req))


async def _open(
    state: _native._CallState,
    entries: list[LLMStreamExecutionIntercept | None],
    index: int,
    request: LLMRequest,
    func: LLMStreamFunction,
) -> AsyncIterator[Json]:
    """The stream of the chain from `index` on (outermost intercept first)."""
    if index == len(entries):
        return await _as_async_iterator(func(request), "the stream function")
    intercept = entries[index]
    if intercept is None:
        # a native intercept: the rest of the chain runs in C, on a worker
        return await _open_native(state, index, request)

    next_ = _next(lambda req: _open(state, entries, index + 1, req, func))
    return await _as_async_iterator(intercept(request, next_), "a stream execution intercept")


class LlmStream:
    """The chunks of a streaming LLM call (an async iterator).

    Every chunk is recorded as an ``llm.chunk`` mark parented to the call and
    passed to the collector; when the stream ends, the finalizer's value is
    recorded as the end event's data.  Leaving early (``break``, then
    ``aclose()`` or dropping the stream) cancels the underlying stream and
    still records the end event (``otel.status_code`` UNSET).
    """

    __slots__ = ("_state", "_iterator", "_collector", "_finalizer", "_done")

    def __init__(
        self,
        state: Any,  # the native call state (a type only the stubs name)
        iterator: AsyncIterator[Json],
        collector: Callable[[Json], object],
        finalizer: Callable[[], Json],
    ) -> None:
        self._state: _native._CallState = state
        self._iterator = iterator
        self._collector = collector
        self._finalizer = finalizer
        self._done = False

    def __aiter__(self) -> "LlmStream":
        return self

    async def __anext__(self) -> Json:
        if self._done:
            raise StopAsyncIteration
        try:
            chunk = await self._iterator.__anext__()
        except StopAsyncIteration:
            self._finish(self._final())
            raise
        except BaseException as exc:
            self._finish(exc)
            raise
        try:
            _native.llm_stream_chunk(self._state, chunk)
            self._collector(chunk)
        except BaseException as exc:
            try:
                await self._close_iterator()
            finally:  # the end is recorded even if closing the source fails
                self._finish(exc)
            raise
        return chunk

    def _finalizer_name(self) -> str:
        return getattr(self._finalizer, "__qualname__", None) or repr(self._finalizer)

    def _final(self) -> Json:
        try:
            return self._finalizer()
        except Exception as exc:  # the finalizer's failure is recorded as null
            warnings.warn(f"stream finalizer {self._finalizer_name()!r} raised {type(exc).__name__}: {exc}; "
                          "recording null", RuntimeWarning, stacklevel=3)
            return None

    def _end(self, outcome: Json | BaseException, final: Json = None) -> None:
        """Records the end event, once; a finalizer's value (``outcome`` of a
        normal end, ``final`` of an early one) that is not JSON is recorded
        as null with a warning: the stream itself went fine."""
        from_finalizer = final is not None or not isinstance(outcome, BaseException)
        try:
            _native.llm_stream_end(self._state, outcome, final)
            return
        except (TypeError, ValueError) as exc:
            if not from_finalizer:
                raise
            warnings.warn(f"stream finalizer {self._finalizer_name()!r} returned a value that is not JSON "
                          f"({exc}); recording null", RuntimeWarning, stacklevel=3)
        _native.llm_stream_end(self._state, outcome if isinstance(outcome, BaseException) else None)

    def _finish(self, outcome: Json | BaseException) -> None:
        if not self._done:
            self._done = True
            self._end(outcome)

    async def _close_iterator(self) -> None:
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            await aclose()

    async def aclose(self) -> None:
        """Cancel the stream if it is still open; records the end event."""
        if self._done:
            return
        try:
            await self._close_iterator()
        finally:
            self._finish_cancelled()

    def _finish_cancelled(self) -> None:
        if not self._done:
            self._done = True
            self._end(_Cancelled(), self._final())

    def __del__(self) -> None:
        if not getattr(self, "_done", True):
            self._finish_cancelled()

    async def __aenter__(self) -> "LlmStream":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _Cancelled(BaseException):
    """Outcome of a stream left early: recorded with status UNSET."""

    def __init__(self) -> None:
        super().__init__("stream cancelled by the consumer")


async def stream_execute(
    name: str,
    request: LLMRequest,
    func: LLMStreamFunction,
    collector: Callable[[Json], object],
    finalizer: Callable[[], Json],
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | int | None = None,
    data: Json = None,
    metadata: Json = None,
    model_name: str | None = None,
    codec: LlmCodec | None = None,
    response_codec: LlmResponseCodec | None = None,
) -> LlmStream:
    """Start a streaming LLM call; iterate the returned ``LlmStream``.

    ``func(request)`` returns an async iterator of JSON chunks (or an
    awaitable of one).  Guardrails, request intercepts and the start event
    happen here; stream execution intercepts wrap the stream.  ``codec``
    gives request intercepts the annotated request; ``response_codec``
    annotates the end event (a built-in codec folds the chunks themselves
    into the response it decodes, so the finalizer may return anything).
    """
    if not callable(collector) or not callable(finalizer):
        raise TypeError("collector and finalizer must be callable")
    options = (("handle", handle), ("attributes", attributes), ("data", data), ("metadata", metadata),
               ("model_name", model_name), ("codec", codec), ("response_codec", response_codec))
    kwargs: dict[str, Any] = {k: v for k, v in options if v is not None}
    state = _native.llm_stream_begin(name, request, func, **kwargs)
    try:
        iterator = await _open(state, _native._stream_entries(state), 0, _native._call_input(state), func)
    except BaseException as exc:
        _native.llm_stream_end(state, exc)
        raise
    return LlmStream(state, iterator, collector, finalizer)
