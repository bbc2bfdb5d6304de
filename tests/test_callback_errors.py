"""Callback mistakes: what nemo_relay raises where NeMo Relay raises a
RuntimeError, exactly as the README's compatibility section documents it."""

from __future__ import annotations

import os

import pytest

from nemo_relay import LLMRequest, errors, guardrails, intercepts, llm, tools

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def compatibility_section() -> str:
    with open(README, encoding="utf-8") as f:
        text = f.read()
    start = text.index("## Compatibility with NeMo Relay")
    return text[start:text.index("\n## ", start + 1)]


def documented(message: str) -> None:
    assert message in compatibility_section(), f"README's compatibility section does not mention {message!r}"


def test_a_raising_callback_raises_its_own_exception(registered):
    class Mine(Exception):
        pass

    original = Mine("boom")

    def fail(name, args):
        raise original

    registered(intercepts, "tool_request", "fail", 0, False, fail)
    with pytest.raises(Mine) as info:
        tools.request_intercepts("t", {})
    assert info.value is original
    documented("the callback's own exception, unchanged")


def test_a_conditional_guardrail_returning_neither_str_nor_none(registered):
    registered(guardrails, "tool_conditional_execution", "bad", 0, lambda name, args: 123)
    message = "conditional execution guardrail expected str or None, got int"
    with pytest.raises(TypeError, match=message) as info:
        tools.conditional_execution("t", {})
    assert not isinstance(info.value, RuntimeError)
    documented(message)


async def test_a_request_intercept_returning_what_is_not_json(registered, events):
    registered(intercepts, "tool_request", "bad", 0, False, lambda name, args: object())
    message = "Failed to convert to JSON: unsupported type 'object'"
    with pytest.raises(ValueError, match=message):
        tools.request_intercepts("t", {})
    with pytest.raises(ValueError, match=message):
        await tools.execute("t", {}, lambda a: a)
    documented(message)


def test_an_llm_request_intercept_returning_the_wrong_shape(registered):
    registered(intercepts, "llm_request", "bad", 0, False, lambda name, request, annotated: object())
    message = "LLM request intercept must return (LLMRequest, annotated or None), got object"
    with pytest.raises(TypeError) as info:
        llm.request_intercepts("m", LLMRequest({}, None))
    assert str(info.value) == message
    documented(message)


async def test_a_stream_function_returning_no_async_iterator(registered, events):
    message = "the stream function must return an async iterator, not object"
    with pytest.raises(TypeError, match=message):
        await llm.stream_execute("s", LLMRequest({}, None), lambda r: object(), lambda c: None, lambda: None)
    assert events.one("s", "end").metadata["otel.status_code"] == "ERROR"
    documented("must return an async iterator, not object")

    async def source(request):
        yield 1

    registered(intercepts, "llm_stream_execution", "bad", 0, lambda request, next_: object())
    with pytest.raises(TypeError, match="a stream execution intercept must return an async iterator, not object"):
        await llm.stream_execute("s2", LLMRequest({}, None), source, lambda c: None, lambda: None)


async def test_a_failing_sanitizer_records_null(registered, events):
    def fail(name, args):
        raise RuntimeError("sanitizer broke")

    registered(guardrails, "tool_sanitize_request", "fail", 0, fail)
    with pytest.warns(RuntimeWarning, match="fail"):
        assert await tools.execute("t", {"a": 1}, lambda a: a) == {"a": 1}
    assert events.one("t", "start").data is None
    documented("records `null` and warns")


def test_runtime_errors_stay_runtime_errors(registered):
    registered(guardrails, "tool_conditional_execution", "deny", 0, lambda name, args: "no")
    with pytest.raises(RuntimeError, match="guardrail rejected: no"):
        tools.conditional_execution("t", {})
    assert issubclass(errors.GuardrailRejected, RuntimeError)
