"""Every scope and call ends exactly once: a second end is a typed error and
records nothing, whichever chain or thread it comes from."""

from __future__ import annotations

import threading

import pytest

import nemo_relay
from nemo_relay import ScopeType, errors, llm, scope, subscribers, tools


def ends(events, uuid: str) -> list:
    return [e for e in events.events if e.uuid == uuid and getattr(e, "scope_category", None) == "end"]


def test_tool_call_end_twice(events):
    h = tools.call("lookup", {"q": 1})
    tools.call_end(h, {"r": 1})
    with pytest.raises(errors.ScopeNotFound, match=f"tool call {h.uuid} has already ended"):
        tools.call_end(h, {"r": 2})
    [end] = ends(events, h.uuid)
    assert end.data == {"r": 1}


def test_llm_call_end_twice(events):
    h = llm.call("model", nemo_relay.LLMRequest({}, {"messages": []}))
    llm.call_end(h, {"text": "a"})
    with pytest.raises(errors.ScopeNotFound, match="LLM call .* has already ended"):
        llm.call_end(h, {"text": "b"})
    assert len(ends(events, h.uuid)) == 1


def test_call_end_twice_without_subscribers_still_fails():
    h = tools.call("quiet", {})
    tools.call_end(h, None)
    with pytest.raises(errors.ScopeNotFound, match="already ended"):
        tools.call_end(h, None)


def test_scope_popped_in_worker_then_in_caller(events):
    top = scope.get_handle()
    h = scope.push("shared", ScopeType.Agent)
    stack = nemo_relay.propagate_scope_to_thread()
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            nemo_relay.set_thread_scope_stack(stack)
            scope.pop(h, output={"by": "worker"})
        except BaseException as e:  # pragma: no cover - reported below
            failures.append(e)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert failures == []
    with pytest.raises(errors.ScopeNotFound, match=f"scope {h.uuid} has already ended"):
        scope.pop(h, output={"by": "caller"})
    # the ended scope no longer sits on the caller's chain
    assert scope.get_handle() == top
    [end] = ends(events, h.uuid)
    assert end.data == {"by": "worker"}
    with pytest.raises(errors.ScopeNotFound):
        scope.pop(h)
    assert len(ends(events, h.uuid)) == 1


def test_ended_scope_below_the_top_is_not_popped(events):
    h = scope.push("shared", ScopeType.Agent)
    stack = nemo_relay.propagate_scope_to_thread()

    def worker() -> None:
        nemo_relay.set_thread_scope_stack(stack)
        scope.pop(h)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    child = scope.push("child", ScopeType.Function)
    with pytest.raises(errors.ScopeNotFound, match="has already ended"):
        scope.pop(h)
    assert scope.get_handle() == child  # nothing changed
    scope.pop(child)
    with pytest.raises(errors.ScopeNotFound, match="has already ended"):
        scope.pop(h)
    assert len(ends(events, h.uuid)) == 1


def test_subscriber_pops_the_scope_whose_start_it_handles(events):
    seen: list[BaseException] = []

    def popper(event: nemo_relay.Event) -> None:
        if event.name == "victim" and getattr(event, "scope_category", None) == "start":
            try:
                scope.pop(scope.get_handle(), output="from subscriber")
            except BaseException as e:  # pragma: no cover - reported below
                seen.append(e)

    subscribers.register("popper", popper)
    try:
        top = scope.get_handle()
        h = scope.push("victim", ScopeType.Agent)
    finally:
        subscribers.deregister("popper")
    assert seen == []
    with pytest.raises(errors.ScopeNotFound, match="has already ended"):
        scope.pop(h)
    assert scope.get_handle() == top
    [end] = ends(events, h.uuid)
    assert end.data == "from subscriber"


def test_context_manager_exit_after_foreign_pop_raises(events):
    with pytest.raises(errors.ScopeNotFound, match="has already ended"):
        with scope.scope("cm", ScopeType.Agent) as h:
            stack = nemo_relay.propagate_scope_to_thread()

            def worker() -> None:
                nemo_relay.set_thread_scope_stack(stack)
                scope.pop(h)

            t = threading.Thread(target=worker)
            t.start()
            t.join()
    assert len(ends(events, h.uuid)) == 1
