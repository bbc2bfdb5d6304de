"""Manifest and loader hardening: files that are not what they claim, bounded
reads, typed errors for malformed manifests, messages about the file the user
wrote, and a bounded fuzz of the checker."""

from __future__ import annotations

import pytest

from conftest import write_manifest
from nemo_relay import errors, plugin

FIXTURE = "fixture_native"
ENTRY = "nemo_relay_fixture_native_plugin"


def test_library_that_is_a_directory_is_a_configuration_error(plugin_dir):
    lib = plugin_dir / "libdir.so"
    lib.mkdir()
    lib.chmod(0o755)
    path = write_manifest(plugin_dir, FIXTURE, str(lib), ENTRY)
    for call in (lambda: plugin.check_manifest(path, plugin_id=FIXTURE),
                 lambda: plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE, path)])):
        with pytest.raises(errors.PluginLoadError,
                           match=f"native plugin library '{lib}' is a directory") as info:
            call()
        assert info.value.check == "library" and info.value.plugin_id == FIXTURE
    assert plugin.list_kinds() == []


# ---- 6: a FIFO (or anything not a regular file) is refused, never waited on ----------

FIFO_SCRIPT = r"""
import sys
from nemo_relay import errors, plugin
target, plugins_toml = sys.argv[1], sys.argv[2]
calls = {
    "check": lambda: plugin.check_manifest(target, plugin_id="fixture_native"),
    "load": lambda: plugin.load_native_plugins([plugin.NativePluginLoadSpec("fixture_native", target)]),
    "specs": lambda: plugin.load_dynamic_plugin_activation_specs(plugins_toml),
}
for name, call in calls.items():
    try:
        call()
        print(name, "NO ERROR")
    except errors.PluginLoadError as exc:
        print(name, exc.check, exc.plugin_id, str(exc))
"""


@pytest.mark.parametrize("name", ["relay-plugin.toml", "relay-plugin.json", "dir"])
def test_fifo_manifest_is_refused_without_blocking(tmp_path, name):
    import os
    import subprocess
    import sys

    if name == "dir":  # a directory whose relay-plugin.toml is a FIFO
        os.mkfifo(tmp_path / "relay-plugin.toml")
        target = tmp_path
    else:
        target = tmp_path / name
        os.mkfifo(target)
    plugins_toml = tmp_path / "plugins.toml"
    ref = "." if name == "dir" else os.path.basename(target)
    plugins_toml.write_text(f'[[plugins.dynamic]]\nmanifest = "{ref}"\n')
    # a subprocess with a timeout: a broken reader would block in open() forever
    proc = subprocess.run([sys.executable, "-P", "-c", FIFO_SCRIPT, str(target), str(plugins_toml)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3, proc.stdout
    for line in lines:
        assert "is not a regular file (a FIFO)" in line and " manifest " in line, line
    assert lines[0].startswith("check manifest fixture_native")
    assert lines[1].startswith("load manifest fixture_native")


def test_manifest_that_is_a_device_is_refused():
    with pytest.raises(errors.PluginLoadError, match="is not a regular file \\(a character device\\)"):
        plugin.check_manifest("/dev/null")


# ---- 7: the same 1 MiB cap for TOML and JSON ------------------------------------------

@pytest.mark.parametrize("name", ["relay-plugin.toml", "relay-plugin.json"])
def test_manifests_larger_than_1_mib_are_refused(plugin_dir, fixture_library, name):
    path = write_manifest(plugin_dir, FIXTURE, str(fixture_library), ENTRY)
    text = open(path).read()
    if name.endswith(".json"):
        import json
        import tomllib

        doc = tomllib.loads(text)
        doc["description"] = "x" * (1024 * 1024)
        text = json.dumps(doc)
    else:
        text += "# padding\n" * (1024 * 1024 // 10 + 1)
    big = plugin_dir / name
    big.write_text(text)
    assert big.stat().st_size > 1024 * 1024
    with pytest.raises(errors.PluginLoadError, match=r"is larger than 1048576 bytes") as info:
        plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE, str(big))])
    assert info.value.check == "manifest" and info.value.plugin_id == FIXTURE
    assert plugin.list_kinds() == []


# ---- 8: malformed manifests referenced from plugins.toml: typed errors ---------------

def _plugins_toml(directory, manifest_name: str):
    p = directory / "plugins.toml"
    p.write_text(f'[[plugins.dynamic]]\nmanifest = "{manifest_name}"\n')
    return p


@pytest.mark.parametrize("name, content, message, plugin_id", [
    ("relay-plugin.toml", 'manifest_version = 1\nplugin = "x"\n', "[plugin] must be a table", None),
    ("relay-plugin.toml", b"manifest_version = 1\n# \xff\n", "not valid UTF-8 (byte offset 23)", None),
    ("relay-plugin.toml", 'manifest_version = 1\n[plugin\n', "relay-plugin.toml", None),
    ("relay-plugin.json", '{"manifest_version": 1, "plugin": ', "JSON syntax error", None),
    ("relay-plugin.json", b'{"manifest_version": 1, "plugin": {"id": "\xff"}}', "not valid UTF-8", None),
    ("relay-plugin.json", '[1, 2]', "expected a JSON object", None),
    ("relay-plugin.toml", 'manifest_version = 1\n[plugin]\nid = "mine"\nkind = "native"\n',
     "missing table [compat]", "mine"),
])
def test_plugin_specs_from_a_malformed_manifest(tmp_path, name, content, message, plugin_id):
    manifest = tmp_path / name
    if isinstance(content, bytes):
        manifest.write_bytes(content)
    else:
        manifest.write_text(content)
    plugins_toml = _plugins_toml(tmp_path, name)
    with pytest.raises(errors.PluginLoadError) as info:
        plugin.load_dynamic_plugin_activation_specs(plugins_toml)
    text = str(info.value)
    assert text.startswith(f"{plugins_toml}: plugins.dynamic[0]: "), text
    assert message in text
    assert info.value.manifest == str(manifest)
    assert info.value.check == "manifest"
    assert info.value.plugin_id == plugin_id


def test_plugin_specs_from_good_manifests(plugin_dir, fixture_library):
    write_manifest(plugin_dir, FIXTURE, str(fixture_library), ENTRY)
    specs = plugin.load_dynamic_plugin_activation_specs(_plugins_toml(plugin_dir, "relay-plugin.toml"))
    assert [(s.plugin_id, s.kind) for s in specs] == [(FIXTURE, "rust_dynamic")]


# ---- 9: the entry symbol must be the plugin's own ------------------------------------

@pytest.mark.parametrize("symbol, provider", [("getpid", "libc"), ("cJSON_Version", "libcjson")])
def test_entry_symbol_defined_by_a_dependency_is_refused(plugin_dir, fixture_library, symbol, provider):
    path = write_manifest(plugin_dir, FIXTURE, str(fixture_library), symbol)
    with pytest.raises(errors.PluginLoadError,
                       match=rf"native plugin symbol '{symbol}' not found in '.*': it is defined in '.*{provider}"
                             rf"[^']*', a library it depends on") as info:
        plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE, path)])
    assert info.value.check == "symbol" and info.value.plugin_id == FIXTURE
    assert plugin.list_kinds() == []


# ---- 11: messages about the file the user wrote -------------------------------------

def _toml_manifest(plugin_dir, fixture_library, name="relay-plugin.toml", extra: dict[str, str] | None = None):
    path = write_manifest(plugin_dir, FIXTURE, str(fixture_library), ENTRY)
    text = open(path).read()
    for old, new in (extra or {}).items():
        assert old in text
        text = text.replace(old, new)
    target = plugin_dir / name
    if str(target) != path:
        import os

        os.remove(path)
    target.write_text(text)
    return str(target)


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_toml_manifest_version_that_is_not_a_number(plugin_dir, fixture_library, value):
    path = _toml_manifest(plugin_dir, fixture_library, extra={"manifest_version = 1": f"manifest_version = {value}"})
    with pytest.raises(errors.PluginLoadError,
                       match=rf"invalid relay-plugin.toml: manifest_version = {value} is not a finite number") as info:
        plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE, path)])
    assert "JSON" not in str(info.value)
    assert info.value.plugin_id == FIXTURE and info.value.manifest == path


def test_toml_date_in_a_manifest_names_the_key(plugin_dir, fixture_library):
    path = _toml_manifest(plugin_dir, fixture_library, extra={"[compat]": "version = 2024-01-02\n[compat]"})
    with pytest.raises(errors.PluginLoadError,
                       match=r"plugin.version = 2024-01-02 is a TOML date or time"):
        plugin.check_manifest(path)


def test_toml_manifest_with_another_name_is_read_as_toml(plugin_dir, fixture_library):
    path = _toml_manifest(plugin_dir, fixture_library, name="my-plugin.manifest")
    assert plugin.check_manifest(path, plugin_id=FIXTURE)["id"] == FIXTURE
    plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE, path)]).close()
    broken = plugin_dir / "broken.cfg"
    broken.write_text("manifest_version = 1\n[plugin\n")
    with pytest.raises(errors.PluginLoadError, match=r"invalid relay-plugin.toml: .*line 2") as info:
        plugin.check_manifest(broken, plugin_id=FIXTURE)
    assert "JSON" not in str(info.value) and info.value.plugin_id == FIXTURE
    looks_json = plugin_dir / "manifest.txt"
    looks_json.write_text('{"manifest_version": 1}')
    with pytest.raises(errors.PluginLoadError, match=r"a JSON manifest must be named \*\.json"):
        plugin.check_manifest(looks_json)


@pytest.mark.parametrize("name, content", [
    ("relay-plugin.toml", "manifest_version = 1\n[plugin\n"),
    ("relay-plugin.json", '{"manifest_version": '),
    ("relay-plugin.json", '{"manifest_version": 1, "plugin": "x"}'),
])
def test_decode_errors_carry_the_callers_plugin_id(plugin_dir, name, content):
    path = plugin_dir / name
    path.write_text(content)
    with pytest.raises(errors.PluginLoadError) as info:
        plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE, str(path))])
    assert info.value.plugin_id == FIXTURE and info.value.manifest == str(path)
    with pytest.raises(errors.PluginLoadError) as info:
        plugin.check_manifest(path, plugin_id="asked_for")
    assert info.value.plugin_id == "asked_for"


# ---- a bounded fuzz of the whole Python path (tomllib + the C checker) --------------

def test_fuzzed_manifests_fail_only_with_plugin_load_errors(plugin_dir, fixture_library):
    import random

    path = write_manifest(plugin_dir, FIXTURE, str(fixture_library), ENTRY)
    base = open(path).read()
    import json
    import tomllib

    bases = {"relay-plugin.toml": base, "relay-plugin.json": json.dumps(tomllib.loads(base))}
    pieces = ['"', "\\u0000", "\\ud800", "[", "]", "{", "}", "=", ",", "inf", "nan", "1979-05-27", "\n",
              "[load]", "'''", "\x00", "\xff", "é", "-1", "1e400", "id = 'x'\n", "\\"]
    rng = random.Random(14)
    outcomes = {"ok": 0, "refused": 0}
    for i in range(400):
        name = rng.choice(sorted(bases))
        text = bases[name]
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(text))
            op = rng.randrange(3)
            if op == 0:
                text = text[:at] + rng.choice(pieces) + text[at:]
            elif op == 1:
                text = text[:at] + text[at + rng.randint(1, 6):]
            else:
                text = text[:at] + chr(rng.randrange(1, 0x250)) + text[at + 1:]
        target = plugin_dir / name
        target.write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            plugin.check_manifest(target, plugin_id=FIXTURE)
            outcomes["ok"] += 1
        except errors.PluginLoadError as exc:
            assert str(exc) and exc.check, (text, exc)
            outcomes["refused"] += 1
    assert outcomes["ok"] > 0 and outcomes["refused"] > 0, outcomes
