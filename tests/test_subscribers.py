"""Subscribers: synchronous in-order delivery, re-entrancy, failures, locality."""

from __future__ import annotations

import pytest

from nemo_relay import MarkEvent, ScopeEvent, ScopeType, errors, scope, scope_local, subscribers


def test_register_deregister_and_duplicates():
    got = []
    subscribers.register("dup", got.append)
    try:
        with pytest.raises(errors.AlreadyExists, match="already exists"):
            subscribers.register("dup", got.append)
        scope.event("m")
        assert [type(e) for e in got] == [MarkEvent]
    finally:
        assert subscribers.deregister("dup") is True
    assert subscribers.deregister("dup") is False
    scope.event("after")
    assert len(got) == 1
    with pytest.raises(TypeError, match="callable"):
        subscribers.register("x", 42)  # type: ignore[arg-type]


def test_delivery_is_synchronous_and_in_registration_order():
    order = []
    subscribers.register("first", lambda e: order.append(("first", e.name)))
    subscribers.register("second", lambda e: order.append(("second", e.name)))
    try:
        h = scope.push("s", ScopeType.Agent)
        assert order == [("first", "s"), ("second", "s")]  # delivered before push returned
        scope.pop(h)
        subscribers.flush()
    finally:
        subscribers.deregister("first")
        subscribers.deregister("second")
    assert len(order) == 4
    assert all(isinstance(x, tuple) for x in order)


def test_subscriber_emitting_a_mark_gets_the_emitters_parent(events):
    def reacts(event):
        if event.name == "outer" and getattr(event, "scope_category", None) == "start":
            assert scope.get_handle().uuid == event.uuid  # the emitter's chain is current
            scope.event("from-subscriber")

    subscribers.register("reacts", reacts)
    try:
        with scope.scope("outer", ScopeType.Agent) as outer:
            pass
    finally:
        subscribers.deregister("reacts")
    assert events.one("from-subscriber").parent_uuid == outer.uuid


def test_failing_subscriber_warns_and_does_not_break_anything(events):
    def boom(event):
        raise RuntimeError("subscriber exploded")

    subscribers.register("boom", boom)
    try:
        with pytest.warns(RuntimeWarning, match="subscriber 'boom' raised RuntimeError: subscriber exploded"):
            h = scope.push("s", ScopeType.Agent)
        with pytest.warns(RuntimeWarning):
            scope.pop(h)
    finally:
        subscribers.deregister("boom")
    assert [e.scope_category for e in events.named("s")] == ["start", "end"]


def test_failing_subscriber_with_unencodable_text_warns_escaped(events):
    def bad(event):
        raise ValueError("\udc80")  # str(exc) is not valid UTF-8

    subscribers.register("bad", bad)
    try:
        with pytest.warns(RuntimeWarning, match=r"subscriber 'bad' raised ValueError: \\udc80"):
            scope.event("hello")
    finally:
        subscribers.deregister("bad")
    assert len(events.named("hello")) == 1


def test_deregistering_inside_delivery():
    seen = []

    def once(event):
        seen.append(event.name)
        subscribers.deregister("once")
        subscribers.register("late", lambda e: seen.append("late:" + e.name))

    subscribers.register("once", once)
    try:
        scope.event("a")
        scope.event("b")
    finally:
        subscribers.deregister("once")
        subscribers.deregister("late")
    assert seen == ["a", "late:b"]


def test_scope_local_subscriber_lives_with_its_scope(events):
    local = []
    outer = scope.push("owner", ScopeType.Agent)
    scope_local.register_subscriber(outer, "local", local.append)
    with pytest.raises(errors.AlreadyExists):
        scope_local.register_subscriber(outer, "local", local.append)
    inner = scope.push("inner", ScopeType.Function)
    scope.event("deep")
    scope.pop(inner)
    scope.pop(outer)
    scope.event("after-pop")
    names = [(e.name, getattr(e, "scope_category", "mark")) for e in local]
    assert names == [("inner", "start"), ("deep", "mark"), ("inner", "end"), ("owner", "end")]
    with pytest.raises(errors.ScopeNotFound, match="not found"):
        scope_local.register_subscriber(outer, "again", local.append)
    assert scope_local.deregister_subscriber(outer, "local") is False


def test_scope_local_subscriber_deregister():
    local = []
    h = scope.push("owner", ScopeType.Agent)
    try:
        scope_local.register_subscriber(h, "local", local.append)
        assert scope_local.deregister_subscriber(h, "local") is True
        scope.event("m")
    finally:
        scope.pop(h)
    assert local == []


def test_events_are_scope_event_and_mark_event(events):
    with scope.scope("s", ScopeType.Tool):
        scope.event("m")
    kinds = [type(e) for e in events.events]
    assert kinds == [ScopeEvent, MarkEvent, ScopeEvent]
    with pytest.raises(TypeError):
        ScopeEvent()  # type: ignore[call-arg]
