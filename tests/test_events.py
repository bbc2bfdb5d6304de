"""Event shapes (ATOF 0.1): key sets, nulls, timestamps, attributes, merges."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from nemo_relay import LLMRequest, ScopeAttributes, ScopeType, llm, scope, tools

SCOPE_KEYS = {
    "kind", "scope_category", "atof_version", "uuid", "parent_uuid", "timestamp", "name",
    "attributes", "category", "category_profile", "data", "data_schema", "metadata",
}
MARK_KEYS = {
    "kind", "atof_version", "uuid", "parent_uuid", "timestamp", "name", "category",
    "category_profile", "data", "data_schema", "metadata",
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_scope_event_key_set_and_values(events):
    root = scope.get_handle()
    h = scope.push("outer", ScopeType.Retriever, metadata={"a": 1}, input={"q": "hi"}, data={"kept": 1})
    scope.pop(h, output=[1, 2], metadata={"b": 2})
    start, end = (e.to_dict() for e in events.events)
    for d in (start, end):
        assert set(d) == SCOPE_KEYS
        assert d["kind"] == "scope"
        assert d["atof_version"] == "0.1"
        assert d["uuid"] == h.uuid and UUID7.match(d["uuid"])
        assert d["parent_uuid"] == root.uuid
        assert TIMESTAMP.match(d["timestamp"])
        assert d["category"] == "retriever"
        assert d["category_profile"] is None and d["data_schema"] is None
        assert d["attributes"] == []
    assert start["scope_category"] == "start" and end["scope_category"] == "end"
    assert start["data"] == {"q": "hi"}  # input is the start event's data; handle data is not emitted
    assert start["metadata"] == {"a": 1}
    assert end["data"] == [1, 2]
    assert end["metadata"] == {"a": 1, "b": 2}
    assert h.data == {"kept": 1}


def test_mark_event_key_set(events):
    outer = scope.push("outer", ScopeType.Agent)
    try:
        scope.event("m", data={"x": [1, None, True, 2.5, "s"]}, metadata={"k": "v"})
    finally:
        scope.pop(outer)
    mark = events.one("m").to_dict()
    assert set(mark) == MARK_KEYS
    assert mark["kind"] == "mark"
    assert mark["parent_uuid"] == outer.uuid
    assert mark["category"] is None and mark["category_profile"] is None
    assert mark["data"] == {"x": [1, None, True, 2.5, "s"]}
    assert mark["metadata"] == {"k": "v"}
    assert mark["uuid"] != outer.uuid


def test_to_json_matches_to_dict_and_properties(events):
    h = scope.push("s", ScopeType.Custom, attributes=ScopeAttributes.RELOCATABLE | ScopeAttributes.PARALLEL)
    scope.pop(h)
    for e in events.events:
        d = e.to_dict()
        assert json.loads(e.to_json()) == d
        for key, value in d.items():
            assert getattr(e, key) == value
    assert events.events[0].attributes == ["parallel", "relocatable"]  # sorted


def test_unknown_attribute_bits_are_refused(events):
    top = scope.get_handle()
    for bad in (0xFF, 4, 2**70, -1):
        with pytest.raises(ValueError, match=rf"attributes {bad} has bits that are not ScopeAttributes flags"):
            scope.push("s", ScopeType.Agent, attributes=bad)
    with pytest.raises(ValueError, match="not ToolAttributes flags \\(known: 0..1\\)"):
        tools.execute_sync("t", {}, lambda a: 1, attributes=2)
    with pytest.raises(ValueError, match="not ToolAttributes flags"):
        tools.call("t", {}, attributes=2**70)
    with pytest.raises(ValueError, match="not LLMAttributes flags"):
        llm.call("m", LLMRequest({}, {}), attributes=-1)
    assert scope.get_handle() == top and events.events == []
    h = scope.push("s", ScopeType.Agent, attributes=3)
    scope.pop(h)
    assert h.attributes == ScopeAttributes(3)
    assert events.events[0].attributes == ["parallel", "relocatable"]


def test_explicit_timestamps_are_kept_and_converted_to_utc(events):
    start = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    end = start + timedelta(seconds=1, microseconds=1)
    h = scope.push("s", ScopeType.Agent, timestamp=start)
    scope.pop(h, timestamp=end)
    assert [e.timestamp for e in events.events] == [
        "2026-01-02T01:04:05.123456+00:00",
        "2026-01-02T01:04:06.123457+00:00",
    ]
    assert h.start_time == start


def test_end_timestamp_is_bumped_past_the_start_when_not_given(events):
    future = datetime.now(timezone.utc) + timedelta(days=1)
    h = scope.push("s", ScopeType.Agent, timestamp=future)
    scope.pop(h)
    start, end = events.events
    assert end.timestamp == "{}+00:00".format((future + timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f"))
    assert end.timestamp > start.timestamp


def test_explicit_mark_timestamp(events):
    ts = datetime(2020, 2, 29, 23, 59, 59, 999999, tzinfo=timezone.utc)
    scope.event("m", timestamp=ts)
    assert events.one("m").timestamp == "2020-02-29T23:59:59.999999+00:00"


def test_events_are_snapshots(events):
    payload = {"list": [1]}
    h = scope.push("s", ScopeType.Agent, input=payload)
    payload["list"].append(2)
    scope.pop(h)
    start = events.events[0]
    assert start.data == {"list": [1]}
    got = start.data
    got["list"].append(99)  # a subscriber cannot change what others see
    assert start.data == {"list": [1]}


def test_metadata_merge_replaces_non_objects(events):
    h = scope.push("s", ScopeType.Agent, metadata=["not", "an", "object"])
    scope.pop(h, metadata={"b": 1})
    assert events.events[1].metadata == {"b": 1}
    h = scope.push("s2", ScopeType.Agent, metadata={"a": 1})
    scope.pop(h)
    assert events.events[3].metadata == {"a": 1}


@pytest.mark.parametrize(
    "value",
    [2**53 + 1, -(2**60), 10**30, 0.1, -0.0, 1e300, "é漢字\u2028", {"nested": {"deep": [[[]]]}}],
)
def test_json_values_round_trip(events, value):
    scope.event("v", data=value)
    mark = events.one("v")
    assert mark.data == value
    assert json.loads(mark.to_json())["data"] == value


def test_big_int_subclass_is_written_as_its_digits(events):
    class Sneaky(int):
        def __str__(self):
            return '1, "injected": 2'

        __repr__ = __str__

    scope.event("v", data={"n": Sneaky(2**60)})
    mark = events.one("v")
    assert mark.data == {"n": 2**60}
    assert json.loads(mark.to_json())["data"] == {"n": 2**60}


def test_every_scope_type_is_recorded_by_name(events):
    for t in ScopeType:
        scope.pop(scope.push(t.name, t))
    starts = [e for e in events.events if e.scope_category == "start"]
    assert [e.category for e in starts] == [t.name.lower() for t in ScopeType]
