"""llm.stream_execute: chunks, marks, collector, finalizer, intercepts, early exit."""

from __future__ import annotations

import gc

import pytest

from nemo_relay import LLMRequest, intercepts, llm


async def chunks(request):
    for i in range(3):
        yield {"i": i, "prompt": request.content}


async def test_stream_chunks_marks_collector_and_finalizer(events):
    collected = []
    stream = await llm.stream_execute("s", LLMRequest({}, "p"), chunks, collected.append,
                                      lambda: {"n": len(collected)})
    got = [c async for c in stream]
    assert got == [{"i": i, "prompt": "p"} for i in range(3)] == collected
    start = events.one("s", "start")
    marks = events.named("llm.chunk")
    assert [m.data for m in marks] == [{"chunk_index": i, "chunk": got[i]} for i in range(3)]
    assert all(m.parent_uuid == start.uuid for m in marks)
    end = events.one("s", "end")
    assert end.data == {"n": 3}
    assert end.metadata == {"otel.status_code": "OK"}
    assert [c async for c in stream] == []  # finished streams stay finished


async def test_stream_execution_intercepts(events):
    async def tag(request, next_):
        downstream = await next_(LLMRequest(request.headers, request.content + "!"))

        async def gen():
            async for chunk in downstream:
                yield {**chunk, "tagged": True}

        return gen()

    intercepts.register_llm_stream_execution("tag", 0, tag)
    try:
        stream = await llm.stream_execute("s", LLMRequest({}, "p"), chunks, lambda c: None, lambda: None)
        got = [c async for c in stream]
    finally:
        intercepts.deregister_llm_stream_execution("tag")
    assert got == [{"i": i, "prompt": "p!", "tagged": True} for i in range(3)]


async def test_early_break_cancels_and_records_the_end(events):
    closed = []

    async def endless(request):
        try:
            i = 0
            while True:
                yield {"i": i}
                i += 1
        finally:
            closed.append(True)

    collected = []
    stream = await llm.stream_execute("s", LLMRequest({}, None), endless, collected.append,
                                      lambda: list(collected))
    async for chunk in stream:
        if chunk["i"] == 1:
            break
    await stream.aclose()
    assert closed == [True]
    end = events.one("s", "end")
    assert end.metadata == {"otel.status_code": "UNSET"}
    assert end.data == [{"i": 0}, {"i": 1}]


async def test_dropping_an_open_stream_records_the_end(events):
    stream = await llm.stream_execute("s", LLMRequest({}, None), chunks, lambda c: None, lambda: "partial")
    await stream.__anext__()
    del stream
    gc.collect()
    assert events.one("s", "end").metadata == {"otel.status_code": "UNSET"}


async def test_collector_failure_ends_the_stream_with_an_error(events):
    def collector(chunk):
        raise ValueError("collector broke")

    stream = await llm.stream_execute("s", LLMRequest({}, None), chunks, collector, lambda: None)
    with pytest.raises(ValueError, match="collector broke"):
        await stream.__anext__()
    assert events.one("s", "end").metadata["otel.status_code"] == "ERROR"


async def test_finalizer_failure_records_null(events):
    def finalizer():
        raise RuntimeError("no final")

    stream = await llm.stream_execute("s", LLMRequest({}, None), chunks, lambda c: None, finalizer)
    with pytest.warns(RuntimeWarning, match="finalizer"):
        assert len([c async for c in stream]) == 3
    end = events.one("s", "end")
    assert end.data is None and end.metadata == {"otel.status_code": "OK"}


async def test_generator_error_records_an_error_end(events):
    async def failing(request):
        yield {"ok": 1}
        raise ConnectionError("stream dropped")

    stream = await llm.stream_execute("s", LLMRequest({}, None), failing, lambda c: None, lambda: None)
    with pytest.raises(ConnectionError):
        async for _ in stream:
            pass
    end = events.one("s", "end")
    assert end.metadata == {"otel.status_code": "ERROR", "otel.status_description": "stream dropped"}


async def test_unencodable_error_text_keeps_the_callers_exception(events):
    original = ValueError("\udc80")  # str(exc) is not valid UTF-8

    async def failing(request):
        yield {"ok": 1}
        raise original

    stream = await llm.stream_execute("s", LLMRequest({}, None), failing, lambda c: None, lambda: None)
    with pytest.raises(ValueError) as info:
        async for _ in stream:
            pass
    assert info.value is original
    end = events.one("s", "end")
    assert end.metadata == {"otel.status_code": "ERROR", "otel.status_description": "\\udc80"}


async def test_stream_function_must_return_an_async_iterator(events):
    with pytest.raises(TypeError, match="async iterator"):
        await llm.stream_execute("s", LLMRequest({}, None), lambda r: [1, 2], lambda c: None, lambda: None)
    assert events.one("s", "end").metadata["otel.status_code"] == "ERROR"
