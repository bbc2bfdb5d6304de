"""Package-level facts: version, header location, runtime core in plain C."""

from __future__ import annotations

import os

import nemo_relay


def test_version():
    assert nemo_relay.__version__ == "0.5.0"
    assert nemo_relay._native.RELAY_VERSION == "0.5.0"


def test_get_include_holds_the_plugin_header():
    path = os.path.join(nemo_relay.get_include(), "nemo_relay_plugin.h")
    with open(path) as f:
        text = f.read()
    assert "NemoRelayNativeHostApiV1" in text
    assert "#define NEMO_RELAY_NATIVE_ABI_VERSION 1u" in text


def test_errors_are_runtime_errors():
    from nemo_relay import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), RuntimeError)
    e = errors.PluginLoadError("x", plugin_id="p", manifest="m", check="sha256")
    assert (e.plugin_id, e.manifest, e.check) == ("p", "m", "sha256")
