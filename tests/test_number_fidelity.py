"""Numbers are recorded as they were: ints of any size exactly, floats bit for
bit, a float that looks integral (1.0) still a float -- in Event.to_json(),
through the bundled plugins (redact's output, atof_file's lines) and through
a native plugin that hands a payload back unchanged (tests/test_host_api.py)."""

from __future__ import annotations

import json

import pytest

from _exact import EDGE_FLOATS, EDGE_INTS, EDGE_NUMBERS, differences, same
from nemo_relay import ScopeType, plugin, scope, tools
from nemo_relay.plugins import manifest


def assert_same(got, want) -> None:
    assert same(got, want), differences(got, want)


def recorded(event) -> object:
    return json.loads(event.to_json())["data"]


@pytest.mark.parametrize("value", EDGE_INTS + EDGE_FLOATS, ids=repr)
def test_every_edge_number_round_trips_through_to_json(events, value):
    scope.event("n", data=value)
    mark = events.one("n")
    assert_same(mark.data, value)
    assert_same(recorded(mark), value)
    assert_same(json.loads(json.dumps(mark.to_dict()))["data"], value)


def test_numbers_in_nested_payloads_input_output_and_metadata(events):
    payload = {"numbers": EDGE_NUMBERS, "list": [EDGE_INTS, EDGE_FLOATS], "flags": [True, False, None]}
    h = scope.push("s", ScopeType.Agent, input=payload, metadata={"m": EDGE_NUMBERS})
    scope.pop(h, output=[payload], metadata={"end": 10**100})
    start, end = events.one("s", "start"), events.one("s", "end")
    assert_same(recorded(start), payload)
    assert_same(json.loads(start.to_json())["metadata"], {"m": EDGE_NUMBERS})
    assert_same(recorded(end), [payload])
    assert_same(json.loads(end.to_json())["metadata"], {"m": EDGE_NUMBERS, "end": 10**100})


def test_integral_floats_are_written_as_python_writes_them(events):
    scope.event("n", data=[1.0, -0.0, 1e22, 2.0**53, 0.1 + 0.2, 5e-324])
    text = events.one("n").to_json()
    assert '"data":[1.0,-0.0,' in text.replace(" ", "")
    assert json.loads(text)["data"][4] == 0.30000000000000004


def spec(name: str, config: dict | None = None) -> plugin.DynamicPluginActivationSpec:
    return plugin.DynamicPluginActivationSpec(name, "native", manifest(name), config=config or {})


async def test_redact_changes_only_what_it_redacts(events):
    args = {"password": "hunter2", "n": EDGE_NUMBERS, "big": 9007199254740993, "note": "x hunter2 y"}
    received = []

    def body(a):
        received.append(a)
        return {"n": EDGE_NUMBERS, "big": 9007199254740993}

    config = {"patterns": ["hunter2"]}
    async with await plugin.initialize_with_dynamic_plugins(None, [spec("redact", config)]):
        result = tools.execute_sync("t", args, body)
    assert_same(received, [args])
    assert_same(result, {"n": EDGE_NUMBERS, "big": 9007199254740993})
    # the start was redacted (so printed again by the plugin); the end was not
    start, end = events.one("t", "start"), events.one("t", "end")
    want = {"password": "[REDACTED]", "n": EDGE_NUMBERS, "big": 9007199254740993, "note": "x [REDACTED] y"}
    assert_same(start.data, want)
    assert_same(recorded(start), want)
    assert_same(end.data, result)
    assert_same(recorded(end), result)
    assert '"big":9007199254740993' in start.to_json()


async def test_atof_file_lines_keep_every_number(tmp_path, events):
    path = tmp_path / "events.jsonl"
    payload = {"n": EDGE_NUMBERS, "big": 9007199254740993, "list": EDGE_FLOATS}
    async with await plugin.initialize_with_dynamic_plugins(None, [spec("atof_file", {"path": str(path)})]):
        scope.event("n", data=payload)
        scope.event("one", data=1.0)
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    assert_same(json.loads(lines[0])["data"], payload)
    assert '"big":9007199254740993' in lines[0]
    assert '"data":1.0' in lines[1]
