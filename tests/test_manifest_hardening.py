"""Manifest and loader hardening: files that are not what they claim, bounded
reads, typed errors for malformed manifests, messages about the file the user
wrote, and a bounded fuzz of the checker."""

from __future__ import annotations

import pytest

from conftest import BUILTIN_KINDS, write_manifest
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
    assert plugin.list_kinds() == BUILTIN_KINDS
