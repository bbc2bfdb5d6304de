"""scope.push/pop/event/get_handle, handles, the context manager, misuse."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from nemo_relay import ScopeAttributes, ScopeHandle, ScopeType, errors, scope


def test_fresh_context_top_is_the_hidden_root(events):
    root = scope.get_handle()
    assert isinstance(root, ScopeHandle)
    assert root.name == "root" and root.scope_type == ScopeType.Agent and root.parent_uuid is None
    with pytest.raises(errors.ScopeError, match="root scope cannot be removed"):
        scope.pop(root)
    assert events.events == []  # the root never emits


def test_push_pop_nesting_and_parents(events):
    root = scope.get_handle()
    a = scope.push("a", ScopeType.Agent)
    b = scope.push("b", ScopeType.Function)
    assert scope.get_handle() == b
    assert b.parent_uuid == a.uuid and a.parent_uuid == root.uuid
    scope.event("inside-b")
    scope.pop(b)
    assert scope.get_handle() == a
    scope.pop(a)
    assert scope.get_handle() == root
    assert events.one("inside-b").parent_uuid == b.uuid
    assert [(e.name, getattr(e, "scope_category", "mark")) for e in events.events] == [
        ("a", "start"), ("b", "start"), ("inside-b", "mark"), ("b", "end"), ("a", "end"),
    ]


def test_explicit_parent_changes_parent_uuid_only(events):
    a = scope.push("a", ScopeType.Agent)
    b = scope.push("b", ScopeType.Agent)
    c = scope.push("c", ScopeType.Agent, handle=a)
    assert c.parent_uuid == a.uuid
    assert scope.get_handle() == c  # still pushed on the current chain
    scope.event("m", handle=a)
    assert events.one("m").parent_uuid == a.uuid
    for h in (c, b, a):
        scope.pop(h)


def test_handle_properties():
    h = scope.push(
        "props", ScopeType.Evaluator, attributes=ScopeAttributes.PARALLEL, data={"d": 1}, metadata={"m": 2}
    )
    try:
        assert h.name == "props"
        assert h.scope_type is ScopeType.Evaluator
        assert h.attributes.is_parallel and not h.attributes.is_relocatable
        assert h.data == {"d": 1} and h.metadata == {"m": 2}
        assert len(h.uuid) == 36
        assert "props" in repr(h)
        with pytest.raises(AttributeError):
            h.name = "other"  # type: ignore[misc]
        with pytest.raises(TypeError):
            ScopeHandle()  # type: ignore[call-arg]
        assert hash(h) == hash(scope.get_handle())
    finally:
        scope.pop(h)


def test_context_manager_status(events):
    with scope.scope("ok", ScopeType.Agent) as h:
        assert scope.get_handle() == h
    with pytest.raises(ValueError):
        with scope.scope("err", ScopeType.Agent):
            raise ValueError("boom")
    with pytest.raises(KeyboardInterrupt):
        with scope.scope("cancelled", ScopeType.Agent):
            raise KeyboardInterrupt
    assert events.one("ok", "end").metadata == {"otel.status_code": "OK"}
    assert events.one("err", "end").metadata == {
        "otel.status_code": "ERROR",
        "otel.status_description": "boom",
    }
    assert events.one("cancelled", "end").metadata == {"otel.status_code": "UNSET"}


async def test_async_context_manager(events):
    async with scope.scope("a", ScopeType.Agent, metadata={"k": 1}) as h:
        scope.event("m")
    assert events.one("m").parent_uuid == h.uuid
    assert events.one("a", "end").metadata == {"k": 1, "otel.status_code": "OK"}


def test_pop_not_on_top_leaves_stack_unchanged(events):
    a = scope.push("a", ScopeType.Agent)
    b = scope.push("b", ScopeType.Agent)
    with pytest.raises(errors.NotOnTop, match="scope handle is not at the top of the stack"):
        scope.pop(a)
    assert scope.get_handle() == b
    scope.pop(b)
    scope.pop(a)
    with pytest.raises(errors.ScopeNotFound, match="scope handle not found"):
        scope.pop(a)
    assert isinstance(errors.NotOnTop("x"), RuntimeError)
    assert len(events.named("a", "end")) == 1


def test_bad_payloads_raise_value_error_and_change_nothing(events):
    top = scope.get_handle()
    for bad in ({"k": object()}, {1: "int key"}, float("nan"), [1, {2, 3}]):
        with pytest.raises(ValueError, match="Failed to convert to JSON"):
            scope.push("bad", ScopeType.Agent, data=bad)
        with pytest.raises(ValueError):
            scope.event("bad", data=bad)
    h = scope.push("ok", ScopeType.Agent)
    with pytest.raises(ValueError):
        scope.pop(h, output={"x": object()})
    assert scope.get_handle() == h  # the failed pop did not pop
    scope.pop(h)
    assert scope.get_handle() == top
    assert [e.name for e in events.events] == ["ok", "ok"]


def test_timestamps_must_be_aware_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        scope.push("x", ScopeType.Agent, timestamp=datetime(2026, 1, 1))
    with pytest.raises(TypeError, match="datetime.datetime"):
        scope.push("x", ScopeType.Agent, timestamp=1234)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        scope.event("x", timestamp="2026-01-01")  # type: ignore[arg-type]
    h = scope.push("x", ScopeType.Agent)
    with pytest.raises(ValueError, match="timezone-aware"):
        scope.pop(h, timestamp=datetime(2026, 1, 1))
    assert scope.get_handle() == h
    scope.pop(h, timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="timezone-aware"):
        with scope.scope("y", ScopeType.Agent, timestamp=datetime(2026, 1, 1)):
            pass


def test_argument_errors():
    with pytest.raises(TypeError):
        scope.push(123, ScopeType.Agent)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid scope type"):
        scope.push("x", 42)
    with pytest.raises(TypeError):
        scope.pop("not a handle")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        scope.push("x", ScopeType.Agent, handle="nope")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected keyword"):
        scope.push("x", ScopeType.Agent, bogus=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="attributes"):
        scope.push("x", ScopeType.Agent, attributes="parallel")  # type: ignore[arg-type]
