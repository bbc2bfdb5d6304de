"""Native plugins: the C fixture (a port of upstream's) loaded through the
manifest checks, dlopen and the ABI v1 host table (reference §6.3)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import stat
import threading

import pytest

import nemo_relay
from conftest import write_manifest
from nemo_relay import LLMRequest, ScopeType, errors, llm, plugin, scope, tools

FIXTURE = "fixture_native"
ENTRY = "nemo_relay_fixture_native_plugin"


def manifest(plugin_dir, library, symbol=ENTRY, plugin_id=FIXTURE, **kw):
    return write_manifest(plugin_dir, plugin_id, str(library), symbol, **kw)


def load(plugin_dir, library, symbol=ENTRY, plugin_id=FIXTURE, **kw):
    path = manifest(plugin_dir, library, symbol, plugin_id, **kw)
    return plugin.load_native_plugins([plugin.NativePluginLoadSpec(plugin_id, path)])


def maps_contain(path) -> bool:
    with open("/proc/self/maps") as f:
        return str(path) in f.read()


@pytest.fixture
def host(plugin_dir, fixture_library):
    """The fixture loaded and initialized as one enabled component."""
    path = manifest(plugin_dir, fixture_library)
    activation = asyncio.run(plugin.initialize_with_dynamic_plugins(
        plugin.PluginConfig(), [plugin.DynamicPluginActivationSpec(FIXTURE, "rust_dynamic", path)]))
    try:
        yield activation
    finally:
        activation.close()
    assert plugin.list_kinds() == []


def by_name(events, name, category=None):
    return [e for e in events.events if e.name == name and (category is None or getattr(e, "scope_category", None) == category)]


async def test_fixture_registers_everything_and_keeps_scope_parentage(host, events):
    assert plugin.list_kinds() == [FIXTURE] and host.report == {"diagnostics": []}
    with scope.scope("native-plugin-test-outer", ScopeType.Agent) as outer:
        assert tools.request_intercepts("x", {"input": "value"}) == {"input": "value", "native_plugin": True}
        result = await tools.execute("native-fixture-tool", {"input": "execute"},
                                     lambda args: {"tool_callback": True, "args": args})
    assert result["tool_callback"] is True and result["native_plugin_tool_execution"] is True
    assert result["args"]["native_plugin_tool_execution_request"] is True
    # the fixture's subscriber reacted to the outer start with a mark of its own
    assert by_name(events, "fixture.native.subscriber.mark")[0].parent_uuid == outer.uuid
    # the runtime-events routine ran twice (standalone and in the managed call)
    marks = by_name(events, "fixture.native.mark")
    starts = by_name(events, "fixture.native.scope", "start")
    isolated = by_name(events, "fixture.native.isolated.mark") + by_name(events, "fixture.native.isolated.scope")
    assert len(marks) == 2 and len(starts) == 2 and len(isolated) == 6
    assert all(m.parent_uuid == outer.uuid for m in marks)
    assert all(s.parent_uuid == outer.uuid for s in starts)
    assert by_name(events, "fixture.native.scope.mark")[0].parent_uuid == starts[0].uuid
    assert all(e.parent_uuid != outer.uuid for e in isolated)
    iso_start = by_name(events, "fixture.native.isolated.scope", "start")[0]
    assert by_name(events, "fixture.native.isolated.mark")[0].parent_uuid == by_name(
        events, "fixture.native.isolated.scope", "start")[0].parent_uuid  # both on the isolated root
    assert iso_start.parent_uuid != outer.parent_uuid
    start = by_name(events, "native-fixture-tool", "start")[0]
    end = by_name(events, "native-fixture-tool", "end")[0]
    assert start.data["native_plugin_tool_sanitize_request"] is True
    assert end.data["native_plugin_tool_sanitize_response"] is True
    assert start.parent_uuid == outer.uuid
    guard = by_name(events, "__nemo_relay_plugin__fixture_native__fixture_tool_conditional", "end")
    assert guard and guard[0].data == {"allowed": True, "rejected": False}


async def test_isolated_next_runs_the_tool_body_on_the_isolated_stack(host, events):
    def body(args):
        scope.event("native-fixture-tool-callback-mark")
        return {"tool_callback": True}

    with scope.scope("native-plugin-test-isolated-next-outer", ScopeType.Agent) as outer:
        result = await tools.execute("native-fixture-tool-isolated-next", {"use_isolated_next": True}, body)
        assert scope.get_handle() == outer
    assert result["tool_callback"] and result["native_plugin_tool_execution"]
    isolated = by_name(events, "fixture.native.isolated.next", "start")[0]
    mark = by_name(events, "native-fixture-tool-callback-mark")[0]
    assert mark.parent_uuid == isolated.uuid != outer.uuid
    # the same with the sync twin
    events.events.clear()
    tools.execute_sync("native-fixture-tool-isolated-next", {"use_isolated_next": True}, body)
    assert by_name(events, "native-fixture-tool-callback-mark")[0].parent_uuid == \
        by_name(events, "fixture.native.isolated.next", "start")[0].uuid


def test_explicit_thread_stack(host, events):
    def in_thread():
        before = nemo_relay._native._capture_thread_binding()
        stack = nemo_relay.create_scope_stack()
        nemo_relay.set_thread_scope_stack(stack)
        outer = scope.push("native-plugin-test-thread-outer", ScopeType.Agent)
        assert tools.request_intercepts("x", {"input": "thread"})["native_plugin"] is True
        scope.pop(outer)
        assert stack.top != outer  # the plugin restored this thread's binding
        assert scope.get_handle() == stack.top
        return outer, before

    box = {}
    t = threading.Thread(target=lambda: box.update(r=in_thread()))
    t.start()
    t.join()
    outer, _ = box["r"]
    assert by_name(events, "fixture.native.mark")[0].parent_uuid == outer.uuid
    assert by_name(events, "fixture.native.thread_stack.mark")[0].parent_uuid != outer.uuid


async def test_managed_llm_call(host, events):
    request = LLMRequest({}, {"prompt": "managed"})
    response = await llm.execute("native-fixture-llm-execute", request,
                                 lambda req: {"id": "managed-response", "request": req.content, "llm_callback": True})
    assert response["llm_callback"] and response["native_plugin_llm_execution"]
    assert response["request"]["native_plugin_llm_execution_request"] is True
    start = by_name(events, "native-fixture-llm-execute", "start")[0]
    end = by_name(events, "native-fixture-llm-execute", "end")[0]
    assert start.data["content"]["native_plugin_llm_sanitize_request"] is True
    assert start.data["content"]["native_plugin_llm_request_intercept"] is True
    assert end.data["native_plugin_llm_sanitize_response"] is True
    assert end.annotated_response is None


async def test_non_json_values_are_rejected_when_native_middleware_reads_them(host):
    # with native middleware the binding converts payloads at once (the
    # conversion doubles as the JSON check): the errors are the usual ones
    with pytest.raises(ValueError, match="Failed to convert to JSON: unsupported type 'object'"):
        tools.execute_sync("t", {"x": object()}, lambda a: a)
    with pytest.raises(ValueError, match="Failed to convert to JSON: unsupported type 'object'"):
        tools.execute_sync("t", {}, lambda a: object())
    with pytest.raises(ValueError, match="Failed to convert to JSON: str is not valid UTF-8"):
        tools.execute_sync("t", {}, lambda a: {"s": "\udc80"})
    with pytest.raises(ValueError, match="Failed to convert to JSON: unsupported type 'object'"):
        await tools.execute("t", {"x": object()}, lambda a: a)
    with pytest.raises(ValueError, match="Failed to convert to JSON: unsupported type 'object'"):
        await tools.execute("t", {}, lambda a: object())
    assert tools.execute_sync("t", {"a": [1, 2]}, lambda a: {"got": a["a"]})["got"] == [1, 2]


async def test_stream_through_a_native_stream_intercept(host, events):
    async def chunks(req):
        yield {"stream_chunk": 1, "request": req.content}
        yield {"stream_chunk": 2}

    collected = []
    stream = await llm.stream_execute("native-fixture-llm-stream", LLMRequest({}, {"prompt": "stream"}), chunks,
                                      collected.append, lambda: list(collected))
    got = [c async for c in stream]
    assert len(got) == 2 and got == collected
    assert got[0]["request"]["native_plugin_llm_stream_execution_request"] is True
    assert all(c["native_plugin_llm_stream_execution"] is True for c in got)
    end = by_name(events, "native-fixture-llm-stream", "end")[0]
    assert end.data[0]["native_plugin_llm_stream_execution"] is True
    assert len(by_name(events, "llm.chunk")) == 2


def test_manual_llm_call_keeps_the_callers_annotation(host, events):
    h = llm.call("native-fixture-llm", LLMRequest({}, {"prompt": "manual"}))
    annotated = {"id": "annotation-before-plugin", "preexisting_annotation": "kept"}
    llm.call_end(h, {"id": "response-from-test", "content": "done"}, annotated_response=annotated)
    end = by_name(events, "native-fixture-llm", "end")[0]
    assert end.annotated_response.to_dict() == annotated
    assert "native_plugin_annotation" not in end.category_profile


def test_validation_diagnostics_prevent_initialization(plugin_dir, fixture_library):
    with load(plugin_dir, fixture_library) as activation:
        config = {"components": [{"kind": FIXTURE, "config": {"reject": True}}]}
        assert plugin.validate(config)["diagnostics"] == [{
            "level": "error", "code": "fixture.rejected", "component": FIXTURE, "field": "reject",
            "message": "fixture rejection requested"}]
        with pytest.raises(errors.InvalidConfig, match="fixture rejection requested"):
            asyncio.run(plugin.initialize(config))
        assert plugin.report() is None
        assert activation.kinds == (FIXTURE,)


def test_missing_library(plugin_dir):
    with pytest.raises(errors.PluginLoadError, match="does not exist") as info:
        load(plugin_dir, plugin_dir / "nope.so")
    assert info.value.plugin_id == FIXTURE and info.value.check == "library"
    assert info.value.manifest.endswith("relay-plugin.toml")


def test_empty_specs_give_an_empty_activation():
    activation = plugin.load_native_plugins([])
    assert activation.is_empty() and activation.kinds == ()
    activation.close()
    activation.close()  # idempotent


def test_closing_deregisters_the_kind(plugin_dir, fixture_library):
    activation = load(plugin_dir, fixture_library)
    assert not activation.is_empty() and FIXTURE in plugin.list_kinds()
    activation.close()
    assert FIXTURE not in plugin.list_kinds()
    load(plugin_dir, fixture_library).close()


def test_closing_leaves_a_kind_registered_anew_under_the_same_name(plugin_dir, fixture_library):
    first = load(plugin_dir, fixture_library)
    assert plugin.deregister(FIXTURE)
    second = load(plugin_dir, fixture_library)  # the name is free again
    first.close()  # must not remove the second activation's kind
    assert FIXTURE in plugin.list_kinds()
    second.close()
    assert FIXTURE not in plugin.list_kinds()


def test_manifest_directory_and_relative_library(plugin_dir, fixture_library):
    (plugin_dir / "lib").mkdir(mode=0o755)
    shutil.copy(fixture_library, plugin_dir / "lib" / fixture_library.name)
    (plugin_dir / "lib" / fixture_library.name).chmod(0o755)
    write_manifest(plugin_dir, FIXTURE, f"lib/{fixture_library.name}", ENTRY)
    activation = plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE, str(plugin_dir))])
    assert activation.kinds == (FIXTURE,)
    activation.close()


def test_partial_load_rolls_back(plugin_dir, fixture_library, tmp_path_factory):
    good = manifest(plugin_dir, fixture_library)
    other = tmp_path_factory.mktemp("missing")
    bad = write_manifest(other, "fixture_native_missing", str(other / "missing.so"), ENTRY)
    with pytest.raises(errors.PluginLoadError, match="does not exist"):
        plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE, good),
                                    plugin.NativePluginLoadSpec("fixture_native_missing", bad)])
    assert FIXTURE not in plugin.list_kinds()
    assert not maps_contain(fixture_library)
    load(plugin_dir, fixture_library).close()


def test_unsupported_relay_requirement_fails_before_loading(plugin_dir):
    with pytest.raises(errors.PluginLoadError, match="requires relay") as info:
        load(plugin_dir, plugin_dir / "nope.so", relay=">=1.0,<2.0")
    assert info.value.check == "compat.relay"


@pytest.mark.parametrize("kw, message", [
    ({"plugin_id": "other_id"}, "does not match expected id"),
    ({"relay": "not a version requirement"}, "invalid compat.relay version requirement"),
    ({"native_api": "2"}, "unsupported compat.native_api"),
    ({"kind": "worker"}, "only supports rust_dynamic"),
])
def test_manifest_contract_errors_come_before_the_library(plugin_dir, kw, message):
    plugin_id = kw.pop("plugin_id", FIXTURE)
    path = write_manifest(plugin_dir, plugin_id, str(plugin_dir / "nope.so"), ENTRY, **kw)
    with pytest.raises(errors.PluginLoadError, match=message):
        plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE, path)])


def test_manifest_writer_escapes_toml_strings(plugin_dir):
    path = write_manifest(plugin_dir, FIXTURE, "C:\\plugins\\fixture.dll", ENTRY, sha256="sha256:abc\\def")
    import tomllib

    with open(path, "rb") as f:
        doc = tomllib.load(f)
    assert doc["load"]["library"] == "C:\\plugins\\fixture.dll"
    assert doc["integrity"]["sha256"] == "sha256:abc\\def"


def test_missing_symbol_digest_and_kind_mismatch(plugin_dir, fixture_library):
    with pytest.raises(errors.PluginLoadError, match="symbol") as info:
        load(plugin_dir, fixture_library, symbol="no_such_symbol")
    assert info.value.check == "symbol"
    digest = hashlib.sha256(fixture_library.read_bytes()).hexdigest()
    load(plugin_dir, fixture_library, sha256=f"sha256:{digest}").close()
    load(plugin_dir, fixture_library, sha256=f"SHA256:{digest.upper()}").close()
    with pytest.raises(errors.PluginLoadError, match="sha256 mismatch"):
        load(plugin_dir, fixture_library, sha256="sha256:deadbeef")
    with pytest.raises(errors.PluginLoadError, match="returned kind"):
        load(plugin_dir, fixture_library, plugin_id="fixture_native_mismatch")
    assert plugin.list_kinds() == []


@pytest.mark.parametrize("symbol, message", [
    ("nemo_relay_fixture_entry_error", "fixture entry failed"),
    ("nemo_relay_fixture_small_descriptor", "incompatible plugin descriptor size"),
    ("nemo_relay_fixture_null_kind", "null plugin_kind"),
    ("nemo_relay_fixture_no_register", "no register callback"),
])
def test_entry_and_descriptor_failures(plugin_dir, fixture_library, symbol, message):
    with pytest.raises(errors.PluginLoadError, match=message):
        load(plugin_dir, fixture_library, symbol=symbol)
    assert plugin.list_kinds() == []


@pytest.mark.parametrize("symbol, message", [
    ("nemo_relay_fixture_validate_error", "fixture validate failed"),
    ("nemo_relay_fixture_invalid_diagnostics", "invalid diagnostics JSON"),
    ("nemo_relay_fixture_register_error", "fixture register failed"),
])
def test_validate_and_register_errors_are_reported(plugin_dir, fixture_library, symbol, message):
    with load(plugin_dir, fixture_library, symbol=symbol):
        with pytest.raises(errors.PluginError, match=message):
            asyncio.run(plugin.initialize({"components": [{"kind": FIXTURE}]}))
        plugin.clear()
    assert nemo_relay._native._registration_count() == 0


def test_writable_library_is_refused_unless_trusted(plugin_dir, fixture_library):
    lib = plugin_dir / "libwritable.so"
    shutil.copy(fixture_library, lib)
    lib.chmod(0o777)
    path = manifest(plugin_dir, lib)
    with pytest.raises(errors.PluginLoadError, match="writable by group or others") as info:
        plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE, path)])
    assert info.value.check == "permissions" and "0777" in str(info.value)
    plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE, path, trust_writable=True)]).close()


def test_check_manifest_never_loads_the_library(plugin_dir):
    # this host's ELF header (what the check reads) on a body dlopen refuses
    not_elf = plugin_dir / "libnot-elf.so"
    with open("/proc/self/exe", "rb") as f:
        header = bytearray(f.read(64))
    header[16:18] = (3).to_bytes(2, "little" if header[5] == 1 else "big")  # ET_DYN
    not_elf.write_bytes(bytes(header) + b"this is not a shared library")
    not_elf.chmod(0o755)
    path = manifest(plugin_dir, not_elf)
    facts = plugin.check_manifest(path, plugin_id=FIXTURE)
    assert facts["id"] == FIXTURE and facts["library"] == str(not_elf)
    with pytest.raises(errors.PluginLoadError, match="failed to load native plugin library") as info:
        load(plugin_dir, not_elf)
    assert info.value.check == "dlopen"


async def test_library_stays_loaded_while_registrations_exist(plugin_dir, fixture_library, events):
    activation = load(plugin_dir, fixture_library)
    await plugin.initialize({"components": [{"kind": FIXTURE}]})
    activation.close()  # wrong order on purpose: the registrations keep the code alive
    assert FIXTURE not in plugin.list_kinds()
    assert maps_contain(fixture_library)
    assert tools.request_intercepts("x", {})["native_plugin"] is True
    plugin.clear()
    assert not maps_contain(fixture_library)  # the last reference closed it


async def test_one_dynamic_host_per_process(host, plugin_dir):
    with pytest.raises(errors.PluginError, match="active dynamic plugin host"):
        await plugin.initialize({"components": []})
    with pytest.raises(errors.PluginError, match="active dynamic plugin host"):
        plugin.clear()
    with pytest.raises(errors.PluginError, match="already exists"):
        await plugin.initialize_with_dynamic_plugins(None, [
            plugin.DynamicPluginActivationSpec(FIXTURE, "rust_dynamic", str(plugin_dir))])
    assert host.is_active
    await host.close()
    assert not host.is_active
    await host.close()


async def test_dynamic_host_rolls_back_on_failure(plugin_dir, fixture_library):
    path = manifest(plugin_dir, fixture_library)
    with pytest.raises(errors.InvalidConfig, match="fixture rejection requested"):
        await plugin.initialize_with_dynamic_plugins(None, [
            plugin.DynamicPluginActivationSpec(FIXTURE, "native", path, config={"reject": True})])
    assert plugin.list_kinds() == [] and not maps_contain(fixture_library)
    with pytest.raises(ValueError, match="at least one"):
        await plugin.initialize_with_dynamic_plugins(None, [])
    with pytest.raises(ValueError, match="worker"):
        await plugin.initialize_with_dynamic_plugins(None, [plugin.DynamicPluginActivationSpec("w", "worker", path)])
    async with await plugin.initialize_with_dynamic_plugins(None, [plugin.DynamicPluginActivationSpec(FIXTURE, "native", path)]):
        pass
    assert plugin.list_kinds() == []


def test_plugins_toml_specs(plugin_dir, fixture_library):
    (plugin_dir / "p").mkdir(mode=0o755)
    write_manifest(plugin_dir / "p", FIXTURE, str(fixture_library), ENTRY)
    toml = plugin_dir / "plugins.toml"
    toml.write_text('[[plugins.dynamic]]\nmanifest = "p"\n[plugins.dynamic.config]\nlimit = 3\n')
    specs = plugin.load_dynamic_plugin_activation_specs(toml)
    assert [(s.plugin_id, s.kind, s.config) for s in specs] == [(FIXTURE, "rust_dynamic", {"limit": 3})]
    toml.write_text('[[plugins.dynamic]]\nmanifest = "p"\nextra = 1\n')
    with pytest.raises(ValueError, match="only have"):
        plugin.load_dynamic_plugin_activation_specs(toml)
    with pytest.raises(FileNotFoundError):
        plugin.load_dynamic_plugin_activation_specs(plugin_dir / "missing.toml")


async def test_duplicate_dynamic_plugin_ids_are_refused(plugin_dir, fixture_library):
    spec = plugin.DynamicPluginActivationSpec(FIXTURE, "rust_dynamic", str(plugin_dir / "p"))
    with pytest.raises(ValueError, match=f"^duplicate dynamic plugin ids: {FIXTURE}$"):
        await plugin.initialize_with_dynamic_plugins(None, [spec, spec])
    (plugin_dir / "p").mkdir(mode=0o755)
    write_manifest(plugin_dir / "p", FIXTURE, str(fixture_library), ENTRY)
    toml = plugin_dir / "plugins.toml"
    toml.write_text('[[plugins.dynamic]]\nmanifest = "p"\n[[plugins.dynamic]]\nmanifest = "p"\n')
    with pytest.raises(ValueError, match="^" + re.escape(f"{toml}: duplicate dynamic plugin ids: {FIXTURE}") + "$"):
        plugin.load_dynamic_plugin_activation_specs(toml)
    assert plugin.list_kinds() == []


async def test_python_stream_intercept_inside_a_native_one(host, events):
    """Native (priority 0) outside, Python (priority 10) inside: the Python
    intercept runs from the native one's continuation, on a worker."""
    seen = []

    async def inner(request, next_):
        downstream = await next_(LLMRequest(request.headers, {**request.content, "inner": True}))

        async def tagged():
            async for chunk in downstream:
                seen.append(chunk)
                yield {**chunk, "python_inner": True}

        return tagged()

    async def chunks(req):
        yield {"n": 1, "content": req.content}
        yield {"n": 2}

    from nemo_relay import intercepts

    intercepts.register_llm_stream_execution("inner", 10, inner)
    try:
        stream = await llm.stream_execute("mixed", LLMRequest({}, {"p": 1}), chunks, lambda c: None, lambda: None)
        got = [c async for c in stream]
    finally:
        intercepts.deregister_llm_stream_execution("inner")
    assert [c["n"] for c in got] == [1, 2]
    assert all(c["python_inner"] and c["native_plugin_llm_stream_execution"] for c in got)
    assert got[0]["content"] == {"p": 1, "native_plugin_llm_request_intercept": True,
                                 "native_plugin_llm_stream_execution_request": True, "inner": True}
    assert len(seen) == 2


def test_entry_failure_message_names_the_symbol(plugin_dir, fixture_library):
    with pytest.raises(errors.PluginLoadError) as info:
        load(plugin_dir, fixture_library, symbol="nemo_relay_fixture_entry_error")
    # the plugin's last error after the symbol (without one: the status name)
    assert str(info.value) == "native plugin entry symbol 'nemo_relay_fixture_entry_error' failed: fixture entry failed"
    assert info.value.check == "entry" and info.value.plugin_id == FIXTURE
