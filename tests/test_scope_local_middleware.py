"""Scope-local middleware: applies while its scope is on the chain, merges
with the global registry by priority, disappears on pop."""

from __future__ import annotations

import asyncio

import pytest

from nemo_relay import ScopeType, errors, guardrails, intercepts, scope, scope_local, tools


async def test_scope_local_guardrail_applies_only_inside_its_scope(events):
    outside = await tools.execute("t", {}, lambda a: "ran")
    assert outside == "ran"
    with scope.scope("guarded", ScopeType.Agent) as h:
        scope_local.register_tool_conditional_execution(h, "block", 0, lambda n, a: "blocked here")
        with pytest.raises(errors.GuardrailRejected, match="blocked here"):
            await tools.execute("t", {}, lambda a: "ran")

        async def child():  # a task started inside sees the scope-local guardrail too
            with pytest.raises(errors.GuardrailRejected):
                await tools.execute("t", {}, lambda a: "ran")

        await asyncio.create_task(child())
    assert await tools.execute("t", {}, lambda a: "ran") == "ran"  # popped: gone


async def test_merge_with_global_by_priority_and_onion_order():
    order = []

    def layer(tag):
        def fn(name, args, next_):
            order.append(tag)
            return next_(args)
        return fn

    intercepts.register_tool_execution("g0", 0, layer("g0"))
    intercepts.register_tool_execution("g5", 5, layer("g5"))
    try:
        with scope.scope("outer", ScopeType.Agent) as outer:
            scope_local.register_tool_execution(outer, "o5", 5, layer("o5"))
            with scope.scope("inner", ScopeType.Agent) as inner:
                scope_local.register_tool_execution(inner, "i1", 1, layer("i1"))
                scope_local.register_tool_execution(inner, "g0", 0, layer("i0"))  # same name, other registry
                await tools.execute("t", {}, lambda a: a)
                assert order == ["g0", "i0", "i1", "g5", "o5"]  # ties: global first, then root to top
                order.clear()
            await tools.execute("t", {}, lambda a: a)
            assert order == ["g0", "g5", "o5"]
    finally:
        intercepts.deregister_tool_execution("g0")
        intercepts.deregister_tool_execution("g5")


async def test_scope_local_sanitizers_and_request_intercepts(events):
    with scope.scope("s", ScopeType.Agent) as h:
        scope_local.register_tool_sanitize_request(h, "mask", 0, lambda n, a: {"masked": True})
        scope_local.register_tool_request(h, "add", 0, False, lambda n, a: {**a, "added": True})
        assert await tools.execute("t", {"x": 1}, lambda a: a) == {"x": 1, "added": True}
        assert scope_local.deregister_tool_request(h, "add") is True
        assert scope_local.deregister_tool_request(h, "add") is False
        assert await tools.execute("t2", {"x": 1}, lambda a: a) == {"x": 1}
    assert events.one("t", "start").data == {"masked": True}


def test_registering_on_a_scope_not_on_the_chain_fails():
    h = scope.push("gone", ScopeType.Agent)
    scope.pop(h)
    with pytest.raises(errors.ScopeNotFound, match="not found"):
        scope_local.register_tool_sanitize_request(h, "x", 0, lambda n, a: a)
    with pytest.raises(TypeError):
        scope_local.register_tool_sanitize_request("not a handle", "x", 0, lambda n, a: a)  # type: ignore[arg-type]


def test_global_and_local_duplicates(events):
    guardrails.register_tool_sanitize_request("same", 0, lambda n, a: a)
    try:
        with scope.scope("s", ScopeType.Agent) as h:
            scope_local.register_tool_sanitize_request(h, "same", 0, lambda n, a: a)
            with pytest.raises(errors.AlreadyExists):
                scope_local.register_tool_sanitize_request(h, "same", 0, lambda n, a: a)
    finally:
        guardrails.deregister_tool_sanitize_request("same")
