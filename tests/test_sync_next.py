"""In tools.execute_sync / llm.execute_sync a Python execution intercept's
`next(input)` runs the rest of the chain at once and returns its value."""

from __future__ import annotations

import pytest

from nemo_relay import LLMRequest, intercepts, llm, tools
from test_native_plugins import host  # noqa: F401  (the fixture plugin, initialized)


def test_next_returns_the_value_so_an_intercept_can_wrap_it(events, registered):
    registered(intercepts, "tool_execution", "wrap", 0, lambda name, args, next_: {"w": next_(args)})
    assert tools.execute_sync("t", {"x": 1}, lambda a: {"y": a["x"]}) == {"w": {"y": 1}}
    assert events.one("t", "end").data == {"w": {"y": 1}}


def test_next_can_be_inspected_and_called_twice(registered):
    calls = []

    def tool(args):
        calls.append(args)
        return {"attempt": len(calls)}

    def retry(name, args, next_):
        first = next_(args)
        assert first == {"attempt": 1}
        return next_({**args, "retry": True})

    registered(intercepts, "tool_execution", "retry", 0, retry)
    assert tools.execute_sync("t", {"x": 1}, tool) == {"attempt": 2}
    assert calls == [{"x": 1}, {"x": 1, "retry": True}]


def test_short_circuit_never_calls_the_function(events, registered):
    called = []
    registered(intercepts, "tool_execution", "cache", 0, lambda name, args, next_: {"cached": True})
    assert tools.execute_sync("t", {}, lambda a: called.append(a)) == {"cached": True}
    assert called == []
    assert events.one("t", "end").metadata == {"otel.status_code": "OK"}


def test_returning_next_still_works_and_layers_nest(registered):
    registered(intercepts, "tool_execution", "outer", 0, lambda n, a, next_: {"outer": next_(a)})
    registered(intercepts, "tool_execution", "inner", 1, lambda n, a, next_: next_({**a, "inner": True}))
    assert tools.execute_sync("t", {}, lambda a: a) == {"outer": {"inner": True}}


def test_an_error_downstream_reaches_the_intercept(events, registered):
    seen = []

    def guard(name, args, next_):
        try:
            return next_(args)
        except KeyError as exc:
            seen.append(exc)
            return {"fallback": True}

    registered(intercepts, "tool_execution", "guard", 0, guard)
    assert tools.execute_sync("t", {}, lambda a: a["missing"]) == {"fallback": True}
    assert len(seen) == 1
    assert events.one("t", "end").metadata == {"otel.status_code": "OK"}


def test_next_after_the_call_ended_is_an_error(registered):
    kept = []

    def keep(name, args, next_):
        kept.append(next_)
        return next_(args)

    registered(intercepts, "tool_execution", "keep", 0, keep)
    tools.execute_sync("t", {}, lambda a: a)
    with pytest.raises(RuntimeError, match="already ended"):
        kept[0]({})


def test_llm_next_returns_the_response(events, registered):
    def wrap(name, request, next_):
        response = next_(LLMRequest(request.headers, request.content + "!"))
        return {"wrapped": response}

    registered(intercepts, "llm_execution", "wrap", 0, wrap)
    assert llm.execute_sync("m", LLMRequest({}, "hi"), lambda r: r.content) == {"wrapped": "hi!"}
    assert events.one("m", "end").data == {"wrapped": "hi!"}


async def test_async_calls_keep_awaitable_next(registered):
    async def wrap(name, args, next_):
        return {"w": await next_(args)}

    registered(intercepts, "tool_execution", "wrap", 0, wrap)
    assert await tools.execute("t", {"a": 1}, lambda a: a) == {"w": {"a": 1}}


def test_python_around_a_native_intercept(host, registered):
    """The fixture plugin's native execution intercept marks the args it
    passes on and the result it returns; a Python intercept outside it sees
    the native layer's result as a value."""
    seen = []

    def outer(name, args, next_):
        result = next_(args)
        seen.append(result)
        return {"w": result}

    registered(intercepts, "tool_execution", "outer", -100, outer)
    result = tools.execute_sync("t", {"x": 1}, lambda a: {"got": a})
    assert result == {"w": seen[0]}
    assert seen[0]["native_plugin_tool_execution"] is True
    assert seen[0]["got"]["native_plugin_tool_execution_request"] is True


def test_python_inside_a_native_intercept(host, registered):
    registered(intercepts, "tool_execution", "inner", 100, lambda n, a, next_: {"w": next_(a)})
    result = tools.execute_sync("t", {"x": 1}, lambda a: {"got": a})
    assert result["native_plugin_tool_execution"] is True
    assert result["w"]["got"]["native_plugin_tool_execution_request"] is True
