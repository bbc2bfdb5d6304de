"""Managed and manual tool calls: pipeline order, events, errors, async."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings

import pytest

from nemo_relay import ScopeType, ToolAttributes, ToolHandle, errors, guardrails, intercepts, scope, tools


def tool_events(events, name="t"):
    return [e for e in events.events if e.name == name]


async def test_execute_async_function_events_and_result(events):
    async def fn(args):
        await asyncio.sleep(0)
        return {"sum": args["a"] + args["b"]}

    with scope.scope("agent", ScopeType.Agent) as agent:
        result = await tools.execute(
            "add", {"a": 1, "b": 2}, fn, data={"kept": True}, metadata={"m": 1},
            attributes=ToolAttributes.REMOTE, tool_call_id="call-7",
        )
    assert result == {"sum": 3}
    start, end = events.named("add")
    assert (start.scope_category, end.scope_category) == ("start", "end")
    assert start.category == "tool" and start.uuid == end.uuid
    assert start.parent_uuid == agent.uuid == end.parent_uuid
    assert start.data == {"a": 1, "b": 2}
    assert end.data == {"sum": 3}
    assert start.metadata == {"m": 1}
    assert end.metadata == {"m": 1, "otel.status_code": "OK"}
    assert start.attributes == ["remote"]
    assert start.category_profile == {"tool_call_id": "call-7"}


async def test_sync_function_and_no_thread_hop(events):
    seen = {}

    def fn(args):
        seen["thread"] = threading.get_ident()
        return "plain string"

    assert await tools.execute("t", {}, fn) == "plain string"
    assert seen["thread"] == threading.get_ident()
    assert events.one("t", "end").data == "plain string"


async def test_function_exception_is_reraised_unchanged_with_error_end_event(events):
    class Boom(Exception):
        pass

    original = Boom("tool failed")

    async def fn(args):
        raise original

    with pytest.raises(Boom) as info:
        await tools.execute("t", {"x": 1}, fn, data={"fallback": 1})
    assert info.value is original
    end = events.one("t", "end")
    assert end.metadata == {"otel.status_code": "ERROR", "otel.status_description": "tool failed"}
    assert end.data == {"fallback": 1}


async def test_unencodable_error_text_is_escaped_in_the_end_event(events):
    original = ValueError("\udc80")  # str(exc) is not valid UTF-8

    def fn(args):
        raise original

    async def afn(args):
        raise original

    with pytest.raises(ValueError) as info:
        await tools.execute("a", {}, afn)
    assert info.value is original
    with pytest.raises(ValueError) as info:
        tools.execute_sync("s", {}, fn)
    assert info.value is original
    for name in ("a", "s"):
        assert events.one(name, "end").metadata == {"otel.status_code": "ERROR",
                                                    "otel.status_description": "\\udc80"}


def test_execute_sync(events):
    assert tools.execute_sync("t", {"x": 1}, lambda a: {"y": a["x"] + 1}) == {"y": 2}
    assert events.one("t", "end").data == {"y": 2}

    async def coro_fn(args):
        return 1

    with pytest.raises(TypeError, match="requires an async caller"):
        tools.execute_sync("t2", {}, coro_fn)
    end = events.one("t2", "end")
    assert end.metadata["otel.status_code"] == "ERROR"


async def test_rejection_emits_guardrail_scope_and_mark_only(events, registered):
    called = []
    registered(guardrails, "tool_conditional_execution", "deny", 0,
               lambda name, args: "not allowed" if args.get("deny") else None)
    with pytest.raises(errors.GuardrailRejected, match="guardrail rejected: not allowed") as info:
        await tools.execute("t", {"deny": True}, lambda a: called.append(a), metadata={"k": "v"})
    assert info.value.reason == "not allowed"
    assert called == []
    assert [(e.name, e.kind, getattr(e, "scope_category", None)) for e in events.events] == [
        ("deny", "scope", "start"), ("deny", "scope", "end"), ("t", "mark", None),
    ]
    g_start, g_end, mark = events.events
    assert g_start.category == "guardrail"
    assert g_start.data == {"kind": "tool_conditional_execution", "target_name": "t"}
    assert g_end.data == {"allowed": False, "rejected": True, "rejection_reason": "not allowed"}
    assert mark.data == {"rejected": True, "rejection_reason": "not allowed"}
    assert mark.metadata == {"k": "v"} == g_start.metadata
    assert mark.parent_uuid == g_start.parent_uuid == scope.get_handle().uuid
    # allowed calls record the guardrail as allowed
    await tools.execute("t", {}, lambda a: None)
    assert events.named("deny", "end")[-1].data == {"allowed": True, "rejected": False}
    # the standalone chain raises the same way and records nothing
    before = len(events.events)
    with pytest.raises(errors.GuardrailRejected):
        tools.conditional_execution("t", {"deny": True})
    assert tools.conditional_execution("t", {}) is None
    assert len(events.events) == before


async def test_first_rejection_stops_the_guardrail_chain(events, registered):
    registered(guardrails, "tool_conditional_execution", "a", 0, lambda n, a: "first")
    registered(guardrails, "tool_conditional_execution", "b", 1, lambda n, a: "second")
    with pytest.raises(errors.GuardrailRejected, match="first"):
        await tools.execute("t", {}, lambda a: a)
    assert events.named("b") == []


async def test_failing_conditional_fails_closed(events, registered):
    def broken(name, args):
        raise LookupError("policy store down")

    registered(guardrails, "tool_conditional_execution", "broken", 0, broken)
    with pytest.raises(LookupError, match="policy store down"):
        await tools.execute("t", {}, lambda a: a)
    assert events.one("broken", "end").data == {"allowed": False, "error": "policy store down"}
    assert events.named("t") == []


async def test_conditional_must_return_str_or_none(registered):
    registered(guardrails, "tool_conditional_execution", "bad", 0, lambda n, a: 42)
    with pytest.raises(TypeError, match="expected str or None"):
        await tools.execute("t", {}, lambda a: a)


async def test_sanitizers_change_only_the_recorded_events(events, registered):
    def mutating_request(name, args):
        args["password"] = "***"  # mutates its private copy only
        return args

    registered(guardrails, "tool_sanitize_request", "req", 0, mutating_request)
    registered(guardrails, "tool_sanitize_response", "resp", 0, lambda n, r: {"redacted": True})
    received = []

    def fn(args):
        received.append(dict(args))
        return {"token": "abc"}

    args = {"user": "u", "password": "hunter2"}
    result = await tools.execute("t", args, fn)
    assert received == [{"user": "u", "password": "hunter2"}]
    assert args == {"user": "u", "password": "hunter2"}
    assert result == {"token": "abc"}
    assert events.one("t", "start").data == {"user": "u", "password": "***"}
    assert events.one("t", "end").data == {"redacted": True}


async def test_failing_sanitizer_records_null_and_warns(events, registered):
    def broken(name, args):
        raise RuntimeError("sanitizer crashed")

    registered(guardrails, "tool_sanitize_request", "broken", 0, broken)
    registered(guardrails, "tool_sanitize_response", "not-json", 0, lambda n, r: {1, 2})
    with pytest.warns(RuntimeWarning) as warned:
        result = await tools.execute("t", {"secret": 1}, lambda a: {"out": 1})
    assert result == {"out": 1}
    messages = [str(w.message) for w in warned]
    assert any("'broken' failed" in m and "sanitizer crashed" in m for m in messages)
    assert any("'not-json' failed" in m for m in messages)
    assert events.one("t", "start").data is None
    assert events.one("t", "end").data is None


async def test_sanitizers_do_not_run_without_subscribers(registered):
    calls = []
    registered(guardrails, "tool_sanitize_request", "s", 0, lambda n, a: calls.append(a) or a)
    await tools.execute("t", {"a": 1}, lambda a: a)
    assert calls == []  # nothing is recorded, so nothing is sanitized


async def test_request_intercepts_order_and_break_chain(events, registered):
    order = []

    def make(tag):
        def fn(name, args):
            order.append(tag)
            return {**args, "trail": args.get("trail", []) + [tag]}
        return fn

    registered(intercepts, "tool_request", "b", 5, False, make("b"))
    registered(intercepts, "tool_request", "a", 5, False, make("a"))
    registered(intercepts, "tool_request", "z", -1, False, make("z"))
    registered(intercepts, "tool_request", "stop", 7, True, make("stop"))
    registered(intercepts, "tool_request", "never", 9, False, make("never"))
    result = await tools.execute("t", {}, lambda a: a)
    assert result == {"trail": ["z", "a", "b", "stop"]}
    assert order == ["z", "a", "b", "stop"]
    assert events.one("t", "start").data == {"trail": ["z", "a", "b", "stop"]}
    assert tools.request_intercepts("t", {"trail": ["x"]}) == {"trail": ["x", "z", "a", "b", "stop"]}


async def test_request_intercept_errors_abort_before_start(events, registered):
    def bad(name, args):
        raise KeyError("missing")

    registered(intercepts, "tool_request", "bad", 0, False, bad)
    with pytest.raises(KeyError):
        await tools.execute("t", {}, lambda a: a)
    assert events.named("t") == []
    registered(intercepts, "tool_request", "not-json", 1, False, lambda n, a: object())
    with pytest.raises(KeyError):
        tools.request_intercepts("t", {})


async def test_execution_onion_order_short_circuit_and_retry(registered):
    trace = []

    def outer(name, args, next_):
        trace.append("outer-in")
        return next_({**args, "outer": True})

    async def middle(name, args, next_):
        trace.append("middle-in")
        first = await next_(args)
        second = await next_({**args, "retry": True})  # called twice: a retry
        trace.append("middle-out")
        return {"first": first, "second": second}

    registered(intercepts, "tool_execution", "middle", 5, middle)
    registered(intercepts, "tool_execution", "outer", 1, outer)
    calls = []

    async def fn(args):
        calls.append(args)
        return {"fn": len(calls)}

    result = await tools.execute("t", {"x": 1}, fn)
    assert trace == ["outer-in", "middle-in", "middle-out"]
    assert calls == [{"x": 1, "outer": True}, {"x": 1, "outer": True, "retry": True}]
    assert result == {"first": {"fn": 1}, "second": {"fn": 2}}

    registered(intercepts, "tool_execution", "cache", 0, lambda name, args, next_: {"cached": True})
    calls.clear()
    assert await tools.execute("t", {}, fn) == {"cached": True}
    assert calls == []  # next called zero times


async def test_execution_intercepts_in_sync_twin(registered):
    registered(intercepts, "tool_execution", "wrap", 0, lambda n, a, next_: next_({**a, "w": 1}))
    assert tools.execute_sync("t", {}, lambda a: a) == {"w": 1}


async def test_execution_intercept_errors_and_bad_results(events, registered):
    registered(intercepts, "tool_execution", "bad", 0, lambda n, a, next_: {"not", "json"})
    with pytest.raises(ValueError, match="Failed to convert to JSON"):
        await tools.execute("t", {}, lambda a: a)
    end = events.one("t", "end")
    assert end.metadata["otel.status_code"] == "ERROR"


async def test_gather_of_managed_calls_in_task_scopes(events):
    async def fn(args):
        await asyncio.sleep(0)
        scope.event(f"inside-{args['i']}")  # parented to the task's scope, not the tool
        return args["i"]

    async def task(i):
        with scope.scope(f"task-{i}", ScopeType.Agent) as t:
            await asyncio.sleep(0)
            assert await tools.execute(f"tool-{i}", {"i": i}, fn) == i
        return t.uuid

    uuids = await asyncio.gather(*(task(i) for i in range(60)))
    for i, task_uuid in enumerate(uuids):
        start, end = events.named(f"tool-{i}")
        assert start.parent_uuid == task_uuid == end.parent_uuid
        assert events.one(f"inside-{i}").parent_uuid == task_uuid


async def test_callbacks_see_the_callers_scope(registered):
    seen = []
    registered(guardrails, "tool_conditional_execution", "who", 0,
               lambda n, a: seen.append(scope.get_handle().name))

    async def task(i):
        with scope.scope(f"task-{i}", ScopeType.Agent):
            await asyncio.sleep(0)
            await tools.execute("t", {}, lambda a: a)

    await asyncio.gather(*(task(i) for i in range(10)))
    assert sorted(seen) == sorted(f"task-{i}" for i in range(10))


async def test_reentrant_execute_from_inside_a_tool(events):
    async def inner(args):
        return {"inner": args}

    async def outer(args):
        return {"outer": await tools.execute("inner", {"n": 1}, inner)}

    with scope.scope("s", ScopeType.Agent) as s:
        assert await tools.execute("outer", {}, outer) == {"outer": {"inner": {"n": 1}}}
    names = [(e.name, e.scope_category) for e in events.events]
    assert names == [("s", "start"), ("outer", "start"), ("inner", "start"), ("inner", "end"),
                     ("outer", "end"), ("s", "end")]
    # tool handles are not pushed: the inner call's parent is the enclosing scope
    assert events.one("inner", "start").parent_uuid == s.uuid


async def test_deregistering_inside_a_running_callback(events, registered):
    calls = []

    def once(name, args):
        calls.append(name)
        guardrails.deregister_tool_conditional_execution("once")
        return None

    guardrails.register_tool_conditional_execution("once", 0, once)
    await tools.execute("t", {}, lambda a: a)
    await tools.execute("t", {}, lambda a: a)
    assert calls == ["t"]


async def test_cancellation_records_an_unset_end(events):
    started = asyncio.Event()

    async def slow(args):
        started.set()
        await asyncio.sleep(3600)

    task = asyncio.ensure_future(tools.execute("slow", {}, slow))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events.one("slow", "end").metadata == {"otel.status_code": "UNSET"}


async def test_create_task_accepts_execute():
    assert await asyncio.create_task(tools.execute("t", {"v": 1}, lambda a: a)) == {"v": 1}


def test_argument_errors(registered):
    with pytest.raises(TypeError, match="callable"):
        guardrails.register_tool_sanitize_request("x", 0, "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="synchronous"):
        async def async_guard(n, a):
            return None
        guardrails.register_tool_conditional_execution("x", 0, async_guard)
    with pytest.raises(TypeError, match="priority"):
        guardrails.register_tool_sanitize_request("x", "high", lambda n, a: a)  # type: ignore[arg-type]
    registered(guardrails, "tool_sanitize_request", "dup", 0, lambda n, a: a)
    with pytest.raises(errors.AlreadyExists, match="already exists"):
        guardrails.register_tool_sanitize_request("dup", 1, lambda n, a: a)
    assert guardrails.deregister_tool_sanitize_response("never-registered") is False
    with pytest.raises(ValueError, match="Failed to convert to JSON"):
        tools.execute_sync("t", {"x": object()}, lambda a: a)
    with pytest.raises(TypeError, match="func must be callable"):
        tools.execute("t", {}, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Failed to convert to JSON"):
        tools.execute_sync("t", {}, lambda a: object())


def test_manual_call_and_call_end(events, registered):
    registered(guardrails, "tool_sanitize_request", "req", 0, lambda n, a: {**a, "s": True})
    registered(guardrails, "tool_sanitize_response", "resp", 0, lambda n, r: None)
    with scope.scope("s", ScopeType.Agent) as s:
        h = tools.call("manual", {"a": 1}, data={"fallback": 1}, metadata={"m": 1}, tool_call_id="id-1")
        assert isinstance(h, ToolHandle)
        assert h.name == "manual" and h.parent_uuid == s.uuid and h.tool_call_id == "id-1"
        assert scope.get_handle() == s  # not pushed
        tools.call_end(h, {"r": 1}, metadata={"n": 2})
    start, end = events.named("manual")
    assert start.data == {"a": 1, "s": True}
    assert start.category_profile == {"tool_call_id": "id-1"}
    assert end.data == {"fallback": 1}  # the sanitized result is null: the handle's data is used
    assert end.metadata == {"m": 1, "n": 2}
    assert start.uuid == end.uuid == h.uuid
    with pytest.raises(TypeError):
        tools.call_end(s, {})  # a scope handle is not a tool handle


@pytest.mark.parametrize("observed", [False, True], ids=["unobserved", "observed"])
async def test_name_is_a_required_str_everywhere(observed):
    from nemo_relay import LLMRequest, llm, subscribers

    if observed:
        subscribers.register("names-observer", lambda e: None)
    try:
        request = LLMRequest({}, "x")
        calls = {
            "tools.execute_sync": lambda: tools.execute_sync(None, {}, lambda a: a),
            "tools.execute": lambda: tools.execute(None, {}, lambda a: a),
            "llm.execute_sync": lambda: llm.execute_sync(None, request, lambda r: {}),
            "llm.execute": lambda: llm.execute(None, request, lambda r: {}),
            "tools.call": lambda: tools.call(None, {}),
            "tools.request_intercepts": lambda: tools.request_intercepts(None, {}),
            "tools.conditional_execution": lambda: tools.conditional_execution(None, {}),
            "scope.push": lambda: scope.push(None, ScopeType.Agent),
            "scope.event": lambda: scope.event(None),
        }
        for what, call in calls.items():
            with pytest.raises(TypeError, match="name must be a str, not NoneType"):
                call()  # type: ignore[arg-type]
                pytest.fail(what)
        with pytest.raises(TypeError, match="name must be a str, not int"):
            await llm.stream_execute(7, request, lambda r: None, lambda c: None, lambda: None)  # type: ignore[arg-type]
    finally:
        if observed:
            assert subscribers.deregister("names-observer")



# ---- a next() step nobody awaits --------------------------------------------------------


def with_intercept(name, fn):
    """A context that registers fn as a tool execution intercept."""
    import contextlib

    @contextlib.contextmanager
    def cm():
        intercepts.register_tool_execution(name, 0, fn)
        try:
            yield
        finally:
            intercepts.deregister_tool_execution(name)

    return cm()


async def test_a_next_step_that_is_never_awaited_warns_like_a_coroutine(events):
    ran = []

    async def forgetful(tool, args, next):
        next(args)  # neither awaited nor returned: the tool never runs
        return {"cached": True}

    async def tool(args):
        ran.append(args)
        return "ran"

    with with_intercept("forgetful", forgetful):
        with pytest.warns(RuntimeWarning, match=r"^next\(\) of intercept 'forgetful' was never awaited"):
            result = await tools.execute("t", {"a": 1}, tool)
            gc.collect()
    assert result == {"cached": True} and ran == []
    assert events.one("t", "end").data == {"cached": True}

    # in execute_sync next() runs the rest of the chain at once: nothing to forget
    with with_intercept("sync_next", lambda tool, args, next: (next(args), "short-circuit")[1]):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert tools.execute_sync("t", {}, lambda a: ran.append(a)) == "short-circuit"
            gc.collect()
    assert ran == [{}]


async def test_a_next_step_that_is_awaited_returned_or_closed_does_not_warn():
    async def awaits(tool, args, next):
        return await next(args)

    def returns(tool, args, next):
        return next(args)

    async def closes(tool, args, next):
        step = next(args)
        step.close()  # an explicit decision not to run it
        return "closed"

    async def tool(args):
        return "ran"

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn, want in ((awaits, "ran"), (returns, "ran"), (closes, "closed")):
            with with_intercept(fn.__name__, fn):
                assert await tools.execute("t", {}, tool) == want
                if fn is returns:
                    assert tools.execute_sync("t", {}, lambda a: "ran") == "ran"
                gc.collect()


def test_unobserved_sync_call_runs_in_the_callers_scope():
    """With nothing registered the sync twins call the function directly; it
    still sees the caller's scope (it used to see the thread's root)."""
    from nemo_relay import LLMRequest, llm

    def body(_args):
        return scope.get_handle().name

    async def coro_fn(_args):
        return 1

    with scope.scope("outer", ScopeType.Agent):
        assert tools.execute_sync("t", {}, body) == "outer"
        assert llm.execute_sync("m", LLMRequest({}, {}), body) == "outer"
        with pytest.raises(TypeError, match="requires an async caller"):
            tools.execute_sync("t", {}, coro_fn)
