"""A bounded fuzz of the value converter (Python <-> JSON, csrc/python/
py_convert.c, and the runtime's JSON printing and parsing): random nested
values with edge numbers and strings, a fixed seed, a few thousand rounds.
It runs in the normal suite, so CI runs it under ASan+UBSan too."""

from __future__ import annotations

import json
import random
import struct
from typing import Any

import pytest

from _exact import EDGE_FLOATS, EDGE_INTS, differences, same
from nemo_relay import plugin, scope, tools
from nemo_relay.plugins import manifest

SEED = 20261204
REDACT_KEY = "redact_me"
# every kind of character a JSON string may hold but NUL and lone surrogates
# (refused on purpose, tested elsewhere): escapes, controls, non-ASCII, astral
CHARS = ['"', "\\", "/", "\b", "\f", "\n", "\r", "\t", "\x01", "\x1f", "\x7f", "a", "Z", "0", "9", ".", "-",
         "e", " ", "{", "}", "[", "]", ",", ":", "\u00e9", "\u2028", "\u2029", "\ufeff", "\uffff", "漢",
         "\U0001f600", "\U0010ffff"]


def random_str(rng: random.Random) -> str:
    return "".join(rng.choice(CHARS) for _ in range(rng.randrange(0, 12)))


def random_float(rng: random.Random) -> float:
    if rng.random() < 0.3:
        return rng.choice(EDGE_FLOATS)
    while True:  # any finite double, subnormals included
        f = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if f == f and f not in (float("inf"), float("-inf")):
            return f


def random_int(rng: random.Random) -> int:
    if rng.random() < 0.3:
        return rng.choice(EDGE_INTS)
    return rng.choice([-1, 1]) * rng.getrandbits(rng.choice([8, 31, 53, 54, 64, 200]))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["none", "bool", "int", "float", "str"] + (["list", "dict", "tuple"] if depth < 5 else [])
    kind = rng.choice(kinds)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return random_int(rng)
    if kind == "float":
        return random_float(rng)
    if kind == "str":
        return random_str(rng)
    items = [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    if kind == "list":
        return items
    if kind == "tuple":
        return tuple(items)
    keys = [REDACT_KEY if rng.random() < 0.1 else random_str(rng) for _ in items]
    return dict(zip(keys, items))


def redacted(value: Any) -> Any:
    """value as the redact plugin configured below records it."""
    if isinstance(value, dict):
        return {k: "[REDACTED]" if k == REDACT_KEY else redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redacted(v) for v in value]
    return value


def test_random_values_round_trip_through_event_json(events):
    rng = random.Random(SEED)
    for i in range(3000):
        value = random_value(rng)
        scope.event("fuzz", data=value)
        mark = events.events[-1]
        assert same(mark.data, value), (i, differences(mark.data, value))
        back = json.loads(mark.to_json())["data"]
        assert same(back, value), (i, differences(back, value))
        events.events.clear()


async def test_random_values_round_trip_through_a_native_plugin(events):
    # redact prints the host's JSON back when it redacts and hands the bytes
    # back when it does not; the host parses either into the recorded value
    rng = random.Random(SEED + 1)
    config = {"keys": [REDACT_KEY], "replace_default_keys": True}
    spec = plugin.DynamicPluginActivationSpec("redact", "native", manifest("redact"), config=config)
    async with await plugin.initialize_with_dynamic_plugins(None, [spec]):
        for i in range(1500):
            value = random_value(rng)
            result = tools.execute_sync("fuzz", value, lambda args: value)
            assert result is value
            start, end = events.events[-2:]
            want = redacted(value)
            for event in (start, end):
                assert same(event.data, want), (i, event.scope_category, differences(event.data, want))
                back = json.loads(event.to_json())["data"]
                assert same(back, want), (i, event.scope_category, differences(back, want))
            events.events.clear()


@pytest.mark.parametrize("bad", ["nul\x00", "\ud800", float("nan"), float("inf"), {1: 2}, {"k": object()}])
def test_values_json_cannot_hold_are_refused(bad):
    with pytest.raises(ValueError, match="Failed to convert to JSON"):
        scope.event("bad", data=[bad])
