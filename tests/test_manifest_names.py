"""Manifest names: a misspelt table or key is an error that says "did you
mean", an unknown one a warning (plugin check) and a RuntimeWarning (load),
and every name NeMo Relay's manifest accepts loads quietly.  Also the
messages that name the manifest file, the sha256 mismatch that shows both
digests, `plugin digest`, and the ELF header check."""

from __future__ import annotations

import hashlib
import json
import platform
import struct
import warnings

import pytest

from conftest import write_manifest
from nemo_relay import errors, plugin
from test_cli import cli

ENTRY = "nemo_relay_fixture_native_plugin"
FIXTURE = "fixture_native"


def manifest_with(plugin_dir, fixture_library, edit) -> str:
    """The fixture's manifest with `edit(text) -> text` applied."""
    path = write_manifest(plugin_dir, FIXTURE, str(fixture_library), ENTRY)
    with open(path) as f:
        text = edit(f.read())
    with open(path, "w") as f:
        f.write(text)
    return path


def load(path: str) -> plugin.NativePluginActivation:
    return plugin.load_native_plugins([plugin.NativePluginLoadSpec(FIXTURE, path)])


TYPOS = [
    # (edit, what the error says)
    (lambda t: t + '[integrty]\nsha256 = "sha256:00"\n',
     "unknown table [integrty]; did you mean [integrity]?"),
    (lambda t: t + '[integrity]\nsha265 = "sha256:00"\n',
     "unknown key 'sha265' in [integrity]; did you mean 'sha256'?"),
    (lambda t: t.replace("library = ", "libary = "),
     "unknown key 'libary' in [load]; did you mean 'library'?"),
    (lambda t: t.replace("[compat]", "[compt]"), "unknown table [compt]; did you mean [compat]?"),
    (lambda t: t + '[Integrity]\nsha256 = "sha256:00"\n',
     "unknown table [Integrity]; did you mean [integrity]?"),
    # a digest that ended up in the wrong table is never silently unchecked
    (lambda t: t + 'sha256 = "sha256:00"\n',
     "key 'sha256' in [load] is not read there; integrity.sha256 belongs in the [integrity] table"),
]


@pytest.mark.parametrize("edit,message", TYPOS)
def test_a_misspelt_name_is_an_error_that_says_did_you_mean(plugin_dir, fixture_library, edit, message):
    path = manifest_with(plugin_dir, fixture_library, edit)
    with pytest.raises(errors.PluginLoadError) as info:
        load(path)
    assert str(info.value) == f"invalid relay-plugin.toml: {message} (in {path})"
    assert info.value.check == "manifest" and info.value.plugin_id == FIXTURE
    assert info.value.manifest == path
    assert FIXTURE not in plugin.list_kinds()

    out = cli("plugin", "check", path)
    assert out.returncode == 1
    assert "[FAIL] manifest parses and its fields are valid" in out.stdout
    assert message in out.stdout


def test_a_misspelt_name_in_a_json_manifest_is_an_error_too(plugin_dir, fixture_library):
    write_manifest(plugin_dir, FIXTURE, str(fixture_library), ENTRY)
    doc = json.loads(json.dumps(__import__("tomllib").loads((plugin_dir / "relay-plugin.toml").read_text())))
    doc["integrity"] = {"sha_256": "sha256:00"}
    (plugin_dir / "relay-plugin.toml").unlink()
    (plugin_dir / "relay-plugin.json").write_text(json.dumps(doc))
    with pytest.raises(errors.PluginLoadError,
                       match=r"^invalid relay-plugin\.json: unknown key 'sha_256' in \[integrity\]; "
                             r"did you mean 'sha256'\? \(in .*relay-plugin\.json\)$"):
        load(str(plugin_dir))


def test_an_unknown_name_warns_and_the_plugin_still_loads(plugin_dir, fixture_library):
    path = manifest_with(plugin_dir, fixture_library,
                         lambda t: t.replace("[compat]", 'homepage = "https://example.com"\n[compat]')
                         + '[metadata]\nauthors = ["a"]\n')
    with pytest.warns(RuntimeWarning) as caught:
        activation = load(path)
    try:
        assert activation.kinds == (FIXTURE,)
    finally:
        activation.close()
    assert sorted(str(w.message) for w in caught) == [
        f"dynamic plugin '{FIXTURE}': {path}: unknown key 'homepage' in [plugin] is ignored",
        f"dynamic plugin '{FIXTURE}': {path}: unknown table [metadata] is ignored",
    ]

    out = cli("plugin", "check", path)
    assert out.returncode == 0, out.stdout
    assert "warning: unknown key 'homepage' in [plugin] is ignored" in out.stdout
    assert "warning: unknown table [metadata] is ignored" in out.stdout
    report = json.loads(cli("plugin", "check", path, "--json").stdout)
    assert report["warnings"] == ["unknown key 'homepage' in [plugin] is ignored",
                                  "unknown table [metadata] is ignored"]


def test_every_name_nemo_relays_manifest_accepts_loads_without_a_warning(plugin_dir, fixture_library):
    # every field of DynamicPluginManifest at NeMo Relay 10a05437e
    digest = hashlib.sha256(fixture_library.read_bytes()).hexdigest()
    path = manifest_with(plugin_dir, fixture_library, lambda t: (
        'description = "all of it"\n' + t.replace("[plugin]", '[plugin]\nname = "Fixture"\nversion = "1.0.0"')
        + '[source]\nmanifest_root = "."\nartifact = "libfixture.so"\n'
        + f'[integrity]\nsha256 = "sha256:{digest}"\nsignature = "sig.asc"\n'))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load(path).close()
    out = cli("plugin", "check", path)
    assert out.returncode == 0 and "warning" not in out.stdout
    assert "[ok  ] integrity.sha256 matches the library" in out.stdout


def test_a_manifest_error_names_the_file_not_the_plugin_config(plugin_dir, fixture_library):
    path = manifest_with(plugin_dir, fixture_library, lambda t: t.replace("[plugin]", '[plugin]\nname = " "'))
    with pytest.raises(errors.PluginLoadError) as info:
        load(path)
    assert str(info.value) == f"invalid relay-plugin.toml: plugin.name must not be empty when provided (in {path})"
    (plugin_dir / "relay-plugin.toml").write_text("manifest_version = \n")
    with pytest.raises(errors.PluginLoadError, match=r"^invalid relay-plugin\.toml: .*\(in .*relay-plugin\.toml\)$"):
        load(path)
    out = cli("plugin", "check", path)
    assert "error: invalid relay-plugin.toml: " in out.stdout and "invalid config" not in out.stdout


def test_sha256_mismatch_shows_both_digests_and_plugin_digest_prints_the_right_one(plugin_dir, fixture_library):
    digest = hashlib.sha256(fixture_library.read_bytes()).hexdigest()
    path = write_manifest(plugin_dir, FIXTURE, str(fixture_library), ENTRY, sha256="sha256:" + "0" * 64)
    with pytest.raises(errors.PluginLoadError) as info:
        load(path)
    message = str(info.value)
    assert "sha256 mismatch" in message
    assert f"integrity.sha256 is 'sha256:{'0' * 64}'" in message
    assert f"the library's digest is 'sha256:{digest}'" in message
    assert info.value.check == "sha256"

    for target in (str(fixture_library), str(plugin_dir), path):
        out = cli("plugin", "digest", target)
        assert out.returncode == 0, out.stderr
        assert out.stdout == f"sha256:{digest}\n"
    write_manifest(plugin_dir, FIXTURE, str(fixture_library), ENTRY, sha256=cli("plugin", "digest", path).stdout.strip())
    load(path).close()
    missing = cli("plugin", "digest", str(plugin_dir / "nope.so"))
    assert missing.returncode == 1 and "nope.so" in missing.stderr


def foreign_elf(path, machine: int) -> None:
    """A file with a 64-bit little-endian ELF header of a shared object for
    `machine` (no cross compiler needed: only the header is read)."""
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HH", 3, machine) + bytes(44)
    path.write_bytes(header)
    path.chmod(0o755)


def test_a_library_for_another_machine_is_named_as_such(plugin_dir):
    host = platform.machine()
    machine, name = (62, "x86_64") if host == "aarch64" else (183, "aarch64")
    lib = plugin_dir / "libforeign.so"
    foreign_elf(lib, machine)
    path = write_manifest(plugin_dir, FIXTURE, str(lib), ENTRY)
    want = f"native plugin library '{lib}' was built for {name}; this host is {host}"
    with pytest.raises(errors.PluginLoadError) as info:
        load(path)
    assert str(info.value) == want and info.value.check == "architecture"
    out = cli("plugin", "check", path)
    assert out.returncode == 1
    assert "[FAIL] library is a shared library for this host's machine" in out.stdout
    assert want in out.stdout

    lib.write_text("not a library\n")
    with pytest.raises(errors.PluginLoadError, match="is not an ELF shared library"):
        load(path)
    obj = bytearray(lib.read_bytes()[:0] or b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
                    + struct.pack("<HH", 1, 62 if host == "x86_64" else 183) + bytes(44))
    lib.write_bytes(bytes(obj))
    if host in ("x86_64", "aarch64"):
        with pytest.raises(errors.PluginLoadError, match="is an object file, not a shared library"):
            load(path)
