"""llm.stream_execute records exactly one end event for every call that
started, however the stream ends; a finalizer that fails or returns something
that is not JSON is recorded as null with a RuntimeWarning naming it."""

from __future__ import annotations

import asyncio
import gc

import pytest

from nemo_relay import LLMRequest, llm

REQUEST = LLMRequest({}, {"prompt": "p"})


# The stream function in the three shapes it may have: an async generator
# function, a sync function returning an async iterator, and an async
# function returning one.
def as_async_generator_function(make):
    async def func(request):
        source = make()
        try:
            async for chunk in source:
                yield chunk
        finally:
            await source.aclose()
    return func


def as_sync_function(make):
    return lambda request: make()


def as_async_function(make):
    async def func(request):
        return make()
    return func


SHAPES = [as_async_generator_function, as_sync_function, as_async_function]


def chunks(n=3, fail_at=None):
    async def gen():
        for i in range(n):
            if i == fail_at:
                raise ConnectionError(f"dropped at {i}")
            yield {"i": i}
    return gen


def ends(events, name="s"):
    return events.named(name, "end")


def only_end(events, name="s"):
    found = ends(events, name)
    assert len(found) == 1, f"expected exactly one end event, got {len(found)}"
    return found[0]


@pytest.mark.parametrize("shape", SHAPES)
async def test_normal_end(events, shape):
    stream = await llm.stream_execute("s", REQUEST, shape(chunks()), lambda c: None, lambda: {"done": True})
    assert [c async for c in stream] == [{"i": 0}, {"i": 1}, {"i": 2}]
    await stream.aclose()  # closing a finished stream records nothing more
    end = only_end(events)
    assert end.data == {"done": True} and end.metadata == {"otel.status_code": "OK"}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fail_at", [0, 2])
async def test_function_raises(events, shape, fail_at):
    stream = await llm.stream_execute("s", REQUEST, shape(chunks(fail_at=fail_at)), lambda c: None, lambda: None)
    with pytest.raises(ConnectionError, match=f"dropped at {fail_at}"):
        async for _ in stream:
            pass
    await stream.aclose()
    assert only_end(events).metadata == {"otel.status_code": "ERROR",
                                         "otel.status_description": f"dropped at {fail_at}"}


async def test_function_raises_when_called(events):
    def broken(request):
        raise KeyError("no model")

    with pytest.raises(KeyError):
        await llm.stream_execute("s", REQUEST, broken, lambda c: None, lambda: None)
    assert only_end(events).metadata["otel.status_code"] == "ERROR"


@pytest.mark.parametrize("shape", SHAPES)
async def test_collector_raises(events, shape):
    closed = []

    def make():
        async def gen():
            try:
                for i in range(3):
                    yield {"i": i}
            finally:
                closed.append(True)
        return gen()

    def collector(chunk):
        if chunk["i"] == 1:
            raise ValueError("collector broke")

    stream = await llm.stream_execute("s", REQUEST, shape(make), collector, lambda: None)
    with pytest.raises(ValueError, match="collector broke"):
        async for _ in stream:
            pass
    assert [c async for c in stream] == []
    assert closed == [True]
    assert only_end(events).metadata == {"otel.status_code": "ERROR", "otel.status_description": "collector broke"}


@pytest.mark.parametrize("shape", SHAPES)
async def test_finalizer_raises(events, shape):
    def finalizer():
        raise RuntimeError("no final")

    stream = await llm.stream_execute("s", REQUEST, shape(chunks()), lambda c: None, finalizer)
    with pytest.warns(RuntimeWarning, match=r"stream finalizer '.*finalizer' raised RuntimeError: no final"):
        assert len([c async for c in stream]) == 3
    end = only_end(events)
    assert end.data is None and end.metadata == {"otel.status_code": "OK"}


@pytest.mark.parametrize("shape", SHAPES)
async def test_finalizer_returns_what_is_not_json(events, shape):
    def final_answer():
        return {"answer": object()}

    stream = await llm.stream_execute("s", REQUEST, shape(chunks()), lambda c: None, final_answer)
    with pytest.warns(RuntimeWarning, match=r"stream finalizer '.*final_answer' returned a value that is not JSON"):
        got = [c async for c in stream]  # the stream ends normally
    assert got == [{"i": 0}, {"i": 1}, {"i": 2}]
    end = only_end(events)
    assert end.data is None and end.metadata == {"otel.status_code": "OK"}


async def test_finalizer_returns_what_is_not_json_after_an_early_exit(events):
    stream = await llm.stream_execute("s", REQUEST, as_sync_function(chunks()), lambda c: None, lambda: {1, 2})
    await stream.__anext__()
    with pytest.warns(RuntimeWarning, match="returned a value that is not JSON"):
        await stream.aclose()
    end = only_end(events)
    assert end.data is None and end.metadata == {"otel.status_code": "UNSET"}


@pytest.mark.parametrize("shape", SHAPES)
async def test_consumer_breaks_early_and_closes(events, shape):
    stream = await llm.stream_execute("s", REQUEST, shape(chunks(10)), lambda c: None, lambda: "partial")
    async for chunk in stream:
        if chunk["i"] == 1:
            break
    await stream.aclose()
    await stream.aclose()
    end = only_end(events)
    assert end.data == "partial" and end.metadata == {"otel.status_code": "UNSET"}


@pytest.mark.parametrize("shape", SHAPES)
async def test_consumer_leaves_an_async_with_block(events, shape):
    async with await llm.stream_execute("s", REQUEST, shape(chunks(10)), lambda c: None, lambda: None) as stream:
        await stream.__anext__()
    assert only_end(events).metadata == {"otel.status_code": "UNSET"}


async def test_consumer_drops_the_stream(events):
    stream = await llm.stream_execute("s", REQUEST, as_sync_function(chunks(10)), lambda c: None, lambda: None)
    await stream.__anext__()
    del stream
    gc.collect()
    assert only_end(events).metadata == {"otel.status_code": "UNSET"}


@pytest.mark.parametrize("shape", SHAPES)
async def test_task_cancelled_while_waiting_for_a_chunk(events, shape):
    started = asyncio.Event()

    def make():
        async def gen():
            yield {"i": 0}
            started.set()
            await asyncio.Event().wait()  # never comes
            yield {"i": 1}
        return gen()

    async def consume():
        stream = await llm.stream_execute("s", REQUEST, shape(make), lambda c: None, lambda: None)
        async for _ in stream:
            pass

    task = asyncio.ensure_future(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert only_end(events).metadata == {"otel.status_code": "UNSET"}


async def test_task_cancelled_while_the_stream_opens(events):
    opening = asyncio.Event()

    async def slow(request):
        opening.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(llm.stream_execute("s", REQUEST, slow, lambda c: None, lambda: None))
    await opening.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(ends(events)) == 1


def test_sync_caller_with_its_own_loop(events):
    """A sync program that runs the stream with asyncio.run."""
    async def main():
        stream = await llm.stream_execute("s", REQUEST, as_sync_function(chunks()), lambda c: None, lambda: object())
        return [c async for c in stream]

    with pytest.warns(RuntimeWarning, match="not JSON"):
        assert len(asyncio.run(main())) == 3
    assert only_end(events).data is None
