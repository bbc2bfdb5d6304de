"""The contextvars bridge: asyncio tasks and threads keep their own chains."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from typing import Any

import pytest

import nemo_relay
from nemo_relay import ScopeType, errors, scope


def run_in_thread(fn: Callable[[], Any]) -> Any:
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - reported to the test
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


async def test_gather_of_tasks_with_nested_scopes(events):
    async def worker(i: int) -> tuple[str, str]:
        with scope.scope(f"task-{i}", ScopeType.Agent) as t:
            await asyncio.sleep(0)
            with scope.scope(f"inner-{i}", ScopeType.Function) as inner:
                await asyncio.sleep(0)
                scope.event(f"mark-{i}")
                await asyncio.sleep(0)
                assert scope.get_handle() == inner
            await asyncio.sleep(0)
            assert scope.get_handle() == t
        return t.parent_uuid, t.uuid

    with scope.scope("parent", ScopeType.Agent) as parent:
        results = await asyncio.gather(*(worker(i) for i in range(60)))
        assert scope.get_handle() == parent
    assert all(p == parent.uuid for p, _ in results)
    for i, (_, task_uuid) in enumerate(results):
        inner_start = events.one(f"inner-{i}", "start")
        assert inner_start.parent_uuid == task_uuid
        assert events.one(f"mark-{i}").parent_uuid == inner_start.uuid
        assert events.one(f"inner-{i}", "end").uuid == inner_start.uuid
        assert events.one(f"task-{i}", "end").uuid == task_uuid


async def test_tasks_created_before_any_push_get_their_own_chains():
    root = scope.get_handle()

    async def worker(i: int) -> str:
        h = scope.push(f"w{i}", ScopeType.Agent)
        await asyncio.sleep(0)
        assert scope.get_handle() == h
        scope.pop(h)
        return h.parent_uuid

    parents = await asyncio.gather(*(worker(i) for i in range(20)))
    assert set(parents) == {root.uuid}


def test_fresh_thread_has_its_own_root_and_is_inactive():
    main_root = scope.get_handle()

    def in_thread() -> tuple[bool, str, str, bool]:
        active_before = nemo_relay.scope_stack_active()
        with pytest.raises(errors.ScopeError, match="no active scope stack"):
            nemo_relay.propagate_scope_to_thread()
        root = scope.get_handle()
        return active_before, root.name, root.uuid, nemo_relay.scope_stack_active()

    active_before, name, uuid, active_after = run_in_thread(in_thread)
    assert not active_before and active_after
    assert name == "root" and uuid != main_root.uuid


def test_propagate_scope_to_thread(events):
    with scope.scope("caller", ScopeType.Agent) as caller:
        stack = nemo_relay.propagate_scope_to_thread()

        def worker() -> str:
            nemo_relay.set_thread_scope_stack(stack)
            assert nemo_relay.scope_stack_active()
            with scope.scope("in-worker", ScopeType.Function) as w:
                scope.event("worker-mark")
            return w.parent_uuid

        assert run_in_thread(worker) == caller.uuid
        assert scope.get_handle() == caller  # the caller's chain was not touched
    assert events.one("worker-mark").parent_uuid == events.one("in-worker", "start").uuid


def test_copy_context_run_in_a_thread_sees_the_callers_scope():
    with scope.scope("caller", ScopeType.Agent) as caller:
        ctx = contextvars.copy_context()

        def worker() -> str:
            h = scope.push("child", ScopeType.Agent)
            scope.pop(h)
            return h.parent_uuid

        assert run_in_thread(lambda: ctx.run(worker)) == caller.uuid
        assert scope.get_handle() == caller


def test_use_scope_stack_restores_exactly():
    def check() -> None:
        before = nemo_relay._native._scope_var.get(None)
        assert not nemo_relay.scope_stack_active()
        stack = nemo_relay.create_scope_stack()
        assert repr(stack) == "<ScopeStack>"
        with nemo_relay.use_scope_stack(stack) as s:
            assert s is stack
            assert nemo_relay.scope_stack_active()
            root = stack.top
            assert scope.get_handle() == root
            h = scope.push("inside", ScopeType.Agent)
            assert h.parent_uuid == root.uuid
            assert stack.top == h  # a bound stack is shared: this thread's pushes land on it
            scope.pop(h)
            assert stack.top == root
        assert nemo_relay._native._scope_var.get(None) is before
        assert not nemo_relay.scope_stack_active()  # the thread's explicit flag is back too

    run_in_thread(check)


def test_set_thread_scope_stack_and_get_scope_stack():
    def check() -> None:
        stack = nemo_relay.create_scope_stack()
        nemo_relay.set_thread_scope_stack(stack)
        assert scope.get_handle() == stack.top
        again = nemo_relay.get_scope_stack()
        assert again.top == stack.top

    run_in_thread(check)


async def test_fork_asyncio_context(events):
    with scope.scope("parent", ScopeType.Agent) as parent:
        ctx = nemo_relay.fork_asyncio_context()

        async def child() -> str:
            with scope.scope("child", ScopeType.Agent) as c:
                await asyncio.sleep(0)
            return c.parent_uuid

        task = asyncio.get_running_loop().create_task(child(), context=ctx)
        assert await task == parent.uuid
        assert scope.get_handle() == parent


def test_scope_popped_in_another_context_is_not_visible():
    h = scope.push("mine", ScopeType.Agent)
    try:
        other = contextvars.Context()  # a context with no chain chosen
        with pytest.raises(errors.ScopeNotFound):
            other.run(scope.pop, h)
        assert scope.get_handle() == h
    finally:
        scope.pop(h)
