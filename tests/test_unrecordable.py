"""A payload of JSON types that cannot be recorded (a string with NUL, a lone
surrogate, an int too long to print) behaves the same with and without native
plugins loaded: the caller gets it unchanged, the record gets null and a
RuntimeWarning says why."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from nemo_relay import plugin, tools
from nemo_relay.plugins import manifest

UNRECORDABLE = {
    "nul": "a\0b",
    "surrogate": "x\ud800y",
    "huge-int": 10**4400,
    "nested-nul": {"k": ["ok", "a\0"]},
}


@contextlib.contextmanager
def activated(name: str, tmp_path):
    if name == "none":
        yield
        return
    config = {"path": str(tmp_path / "events.jsonl")} if name == "atof_file" else {}

    act = asyncio.run(plugin.initialize_with_dynamic_plugins(
        None, [plugin.DynamicPluginActivationSpec(name, "native", manifest(name), config=config)]))
    try:
        yield
    finally:
        act.close()


def end_of(events, name):
    [end] = [e for e in events.events if e.name == name and getattr(e, "scope_category", None) == "end"]
    return end


@pytest.mark.parametrize("loaded", ["none", "atof_file", "redact"])
@pytest.mark.parametrize("label", sorted(UNRECORDABLE))
def test_unrecordable_result_reaches_the_caller_and_records_null(events, tmp_path, loaded, label):
    value = UNRECORDABLE[label]
    with activated(loaded, tmp_path):
        with pytest.warns(RuntimeWarning) as caught:
            result = tools.execute_sync("odd", {"q": 1}, lambda args: value)
    assert result is value
    end = end_of(events, "odd")
    assert end.data is None
    assert end.metadata == {"otel.status_code": "OK"}
    text = " ".join(str(w.message) for w in caught)
    if loaded == "redact":  # the native sanitizer could not read it (SPEC D6)
        assert "sanitize-response guardrail" in text and "the recorded payload is null" in text
    else:
        assert "the result of 'odd' cannot be recorded" in text and "the recorded payload is null" in text
    json.loads(end.to_json())  # the record itself is valid JSON


async def test_unrecordable_async_result(events, tmp_path):
    spec = plugin.DynamicPluginActivationSpec(
        "atof_file", "native", manifest("atof_file"), config={"path": str(tmp_path / "e.jsonl")})
    with pytest.warns(RuntimeWarning, match="cannot be recorded"):
        result = await tools.execute("odd-async", {}, lambda args: "a\0b")
    assert result == "a\0b"
    async with await plugin.initialize_with_dynamic_plugins(None, [spec]):
        with pytest.warns(RuntimeWarning, match="cannot be recorded"):
            result = await tools.execute("odd-async", {}, lambda args: "a\0b")
    assert result == "a\0b"
    ends = [e for e in events.events if e.name == "odd-async" and e.scope_category == "end"]
    assert [e.data for e in ends] == [None, None]


@pytest.mark.parametrize("loaded", ["none", "atof_file"])
def test_unrecordable_arguments_are_passed_on_and_recorded_null(events, tmp_path, loaded):
    seen = []
    with activated(loaded, tmp_path):
        with pytest.warns(RuntimeWarning, match="the arguments of 'args-nul' cannot be recorded"):
            tools.execute_sync("args-nul", {"q": "a\0b"}, lambda args: seen.append(args) or "ok")
    assert seen == [{"q": "a\0b"}]
    [start] = [e for e in events.events if e.name == "args-nul" and e.scope_category == "start"]
    assert start.data is None


def test_manual_call_end_with_unrecordable_result(events):
    h = tools.call("manual-odd", {})
    with pytest.warns(RuntimeWarning, match="cannot be recorded"):
        tools.call_end(h, "a\0b")
    assert end_of(events, "manual-odd").data is None


def test_wrong_types_still_fail_with_native_plugins(tmp_path):
    with activated("atof_file", tmp_path):
        with pytest.raises(ValueError, match="Failed to convert to JSON"):
            tools.execute_sync("bad-type", {}, lambda args: {"k": object()})
