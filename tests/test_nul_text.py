"""Text that becomes a C string is never cut at a NUL: a name, id or path
containing one is refused with an error naming the field, and nothing
changes."""

from __future__ import annotations

import json

import pytest

from conftest import write_manifest
from nemo_relay import ScopeType, errors, guardrails, intercepts, plugin, scope, scope_local, subscribers, tools

FIXTURE = "fixture_native"
ENTRY = "nemo_relay_fixture_native_plugin"


def test_scope_and_mark_names(events):
    top = scope.get_handle()
    with pytest.raises(ValueError, match="scope name must not contain a NUL character"):
        scope.push("dup\0a", ScopeType.Agent)
    with pytest.raises(ValueError, match="mark name must not contain a NUL character"):
        scope.event("m\0")
    assert scope.get_handle() == top and events.events == []


def test_tool_and_llm_call_names(events):
    called = []
    with pytest.raises(ValueError, match="tool name must not contain a NUL character"):
        tools.execute_sync("t\0x", {}, lambda a: called.append(a))
    with pytest.raises(ValueError, match="tool name must not contain a NUL character"):
        tools.call("t\0x", {})
    with pytest.raises(ValueError, match="tool name must not contain a NUL character"):
        tools.request_intercepts("t\0x", {})
    assert called == [] and events.events == []


def test_registration_names_do_not_collide():
    subscribers.register("dup", lambda e: None)
    try:
        with pytest.raises(ValueError, match="subscriber name must not contain a NUL character"):
            subscribers.register("dup\0a", lambda e: None)
        with pytest.raises(ValueError, match="subscriber name must not contain"):
            subscribers.deregister("dup\0b")
    finally:
        assert subscribers.deregister("dup")
    with pytest.raises(ValueError, match="tool sanitize-request guardrail name must not contain a NUL"):
        guardrails.register_tool_sanitize_request("g\0", 1, lambda name, args: args)
    with pytest.raises(ValueError, match="tool execution intercept name must not contain a NUL"):
        intercepts.register_tool_execution("i\0", 1, lambda name, args, nxt: nxt(args))
    h = scope.push("owner", ScopeType.Agent)
    try:
        with pytest.raises(ValueError, match="name must not contain a NUL character"):
            scope_local.register_tool_sanitize_request(h, "s\0", 1, lambda name, args: args)
    finally:
        scope.pop(h)
    with pytest.raises(ValueError, match="plugin_kind must not contain a NUL character"):
        plugin.register("kind\0x", object())
    assert plugin.list_kinds() == []


def test_guardrail_reason_with_nul_fails_the_call(registered):
    registered(guardrails, "tool_conditional_execution", "nul-reason", 1, lambda name, args: "no\0pe")
    with pytest.raises(ValueError, match="conditional execution guardrail reason must not contain a NUL"):
        tools.execute_sync("guarded", {}, lambda a: 1)


def test_plugin_id_and_manifest_ref(plugin_dir, fixture_library):
    path = write_manifest(plugin_dir, FIXTURE, str(fixture_library), ENTRY)
    with pytest.raises(ValueError, match="plugin_id must not contain a NUL character"):
        plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE + "\0x", path)])
    with pytest.raises(ValueError, match="manifest_ref must not contain a NUL character"):
        plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE, path + "\0.json")])
    with pytest.raises(ValueError, match="manifest_ref must not contain a NUL character"):
        plugin.check_manifest(str(plugin_dir) + "\0/x")
    assert plugin.list_kinds() == []


@pytest.mark.parametrize("field, where", [
    ("id", "plugin.id"), ("library", "load.library"), ("symbol", "load.symbol"),
])
@pytest.mark.parametrize("fmt", ["toml", "json"])
def test_manifest_strings_with_an_escaped_nul(plugin_dir, fixture_library, field, where, fmt):
    values = {"id": FIXTURE, "library": str(fixture_library), "symbol": ENTRY}
    values[field] += "\0x"
    if fmt == "toml":
        # json.dumps writes "\u0000", which is also a TOML escape
        path = write_manifest(plugin_dir, values["id"], values["library"], values["symbol"])
    else:
        path = str(plugin_dir / "relay-plugin.json")
        with open(path, "w") as f:
            json.dump({"manifest_version": 1,
                       "plugin": {"id": values["id"], "kind": "native"},
                       "compat": {"relay": ">=0.5", "native_api": "1"},
                       "defaults": {"enabled": False},
                       "capabilities": {"items": ["plugin_native"]},
                       "load": {"library": values["library"], "symbol": values["symbol"]}}, f)
    with pytest.raises(errors.PluginLoadError,
                       match=rf"invalid relay-plugin.{fmt}: {where} contains a NUL character") as info:
        plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE, path)])
    assert info.value.check == "manifest"
    assert info.value.plugin_id == FIXTURE
    with pytest.raises(errors.PluginLoadError, match=f"{where} contains a NUL character"):
        plugin.check_manifest(path)
    assert plugin.list_kinds() == []
