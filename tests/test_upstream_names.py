"""Names and helpers that code written for NeMo Relay imports: the JSON and
callback type aliases, utils.run_sync, and get_scope_stack's identity."""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import threading

import pytest

import nemo_relay
from nemo_relay import ScopeType, intercepts, scope, tools
from nemo_relay.utils import run_sync

GUARDRAIL_ALIASES = ["ToolSanitizeGuardrail", "ToolConditionalExecutionGuardrail", "LlmSanitizeRequestGuardrail",
                     "LlmSanitizeResponseGuardrail", "LlmConditionalExecutionGuardrail"]
INTERCEPT_ALIASES = ["ToolRequestIntercept", "ToolExecutionIntercept", "LlmRequestIntercept",
                     "LlmExecutionIntercept", "LlmStreamExecutionIntercept"]
JSON_ALIASES = ["Json", "JsonObject", "JsonPrimitive", "JsonValue", "UnsupportedBehavior"]


@pytest.mark.parametrize(("module", "names"), [
    ("nemo_relay", JSON_ALIASES + GUARDRAIL_ALIASES + INTERCEPT_ALIASES),
    ("nemo_relay.guardrails", GUARDRAIL_ALIASES),
    ("nemo_relay.intercepts", INTERCEPT_ALIASES),
    ("nemo_relay.scope_local", GUARDRAIL_ALIASES + INTERCEPT_ALIASES),
    ("nemo_relay.llm", ["Json", "JsonObject"]),
])
def test_aliases_are_importable_where_nemo_relay_has_them(module, names):
    mod = importlib.import_module(module)
    for name in names:
        assert getattr(mod, name) is getattr(nemo_relay, name), (module, name)
    if module in ("nemo_relay", "nemo_relay.intercepts"):
        assert set(names) <= set(mod.__all__)


def test_alias_shapes():
    assert nemo_relay.JsonObject == dict[str, nemo_relay.JsonValue]
    assert nemo_relay.UnsupportedBehavior.__args__ == ("ignore", "warn", "error")
    assert nemo_relay.ToolSanitizeGuardrail is nemo_relay._types.ToolSanitizer


# ---- get_scope_stack ---------------------------------------------------------------


def test_get_scope_stack_is_one_object_per_context_and_position():
    def check():
        first = nemo_relay.get_scope_stack()
        assert nemo_relay.get_scope_stack() is first
        assert first.top is scope.get_handle()
        h = scope.push("inner", ScopeType.Agent)
        try:
            moved = nemo_relay.get_scope_stack()
            assert moved is not first and moved.top is h
            assert nemo_relay.get_scope_stack() is moved
        finally:
            scope.pop(h)
        assert nemo_relay.get_scope_stack().top is scope.get_handle()

    contextvars.Context().run(check)


async def test_tasks_inherit_the_stack_object_until_they_push():
    stack = nemo_relay.get_scope_stack()

    async def child():
        same = nemo_relay.get_scope_stack() is stack
        with scope.scope("child", ScopeType.Agent) as h:
            mine = nemo_relay.get_scope_stack()
        return same, mine.top is h

    assert await asyncio.gather(child(), child()) == [(True, True), (True, True)]
    assert nemo_relay.get_scope_stack() is stack


def test_a_bound_stack_stays_the_current_object_across_pushes():
    def check():
        stack = nemo_relay.get_scope_stack()
        nemo_relay.set_thread_scope_stack(stack)
        h = scope.push("bound", ScopeType.Agent)
        try:
            assert stack.top is h  # a bound stack moves with this thread's pushes
            assert nemo_relay.get_scope_stack() is stack
        finally:
            scope.pop(h)

    t = threading.Thread(target=contextvars.Context().run, args=(check,))
    t.start()
    t.join()


# ---- utils.run_sync ----------------------------------------------------------------

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


def test_run_sync_without_a_loop_uses_this_thread():
    async def work():
        return threading.get_ident(), request_id.get()

    token = request_id.set("r-1")
    try:
        assert run_sync(work()) == (threading.get_ident(), "r-1")
    finally:
        request_id.reset(token)


async def test_run_sync_inside_a_loop_runs_on_a_worker_with_the_callers_context(events):
    async def work():
        with scope.scope("inside", ScopeType.Function) as inner:
            result = await tools.execute("tool", {"x": 1}, lambda a: a)
        return threading.get_ident(), request_id.get(), inner.parent_uuid, result

    request_id.set("r-2")
    with scope.scope("outer", ScopeType.Agent) as outer:
        thread, seen, parent, result = run_sync(work())  # a sync call made from async code
        assert scope.get_handle() is outer  # the caller's chain is unchanged
    assert thread != threading.get_ident()
    assert seen == "r-2" and parent == outer.uuid and result == {"x": 1}
    inside = events.one("inside", "start")
    assert events.one("tool", "start").parent_uuid == inside.uuid


async def test_run_sync_inside_a_loop_keeps_the_stack_object():
    stack = nemo_relay.get_scope_stack()

    async def work():
        return nemo_relay.get_scope_stack()

    assert run_sync(work()) is stack


async def test_run_sync_raises_the_coroutines_error():
    async def fail():
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        run_sync(fail())


def test_run_sync_needs_a_coroutine():
    with pytest.raises(TypeError, match="expects a coroutine, not function"):
        run_sync(lambda: None)  # type: ignore[arg-type]


async def test_middleware_can_call_async_code_through_run_sync(registered):
    async def lookup(city):
        await asyncio.sleep(0)
        return city.upper()

    registered(intercepts, "tool_request", "upper", 0, False,
               lambda name, args: {**args, "city": run_sync(lookup(args["city"]))})
    assert await tools.execute("t", {"city": "paris"}, lambda a: a) == {"city": "PARIS"}
