"""Shared fixtures.  The runtime's registries are process-global: every test
must leave nothing registered, which the autouse fixture below enforces."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import nemo_relay
from nemo_relay import _native, subscribers


@pytest.fixture(autouse=True)
def nothing_left_registered() -> Iterator[None]:
    before = _native._registration_count()
    yield
    after = _native._registration_count()
    assert after == before, f"test left {after - before} registration(s) behind"


class Recorder:
    """Captures every event; helpers to look events up."""

    def __init__(self) -> None:
        self.events: list[nemo_relay.Event] = []

    def __call__(self, event: nemo_relay.Event) -> None:
        self.events.append(event)

    def named(self, name: str, category: str | None = None) -> list[nemo_relay.Event]:
        return [
            e
            for e in self.events
            if e.name == name and (category is None or getattr(e, "scope_category", None) == category)
        ]

    def one(self, name: str, category: str | None = None) -> nemo_relay.Event:
        found = self.named(name, category)
        assert len(found) == 1, f"expected one {name!r} {category or ''} event, got {len(found)}"
        return found[0]

    def dicts(self) -> list[dict]:
        return [e.to_dict() for e in self.events]


@pytest.fixture
def registered():
    """register(module, kind, name, *args): registers middleware through
    module.register_<kind> and removes it again after the test."""
    made: list[tuple] = []

    def add(module, kind: str, name: str, *args):
        getattr(module, f"register_{kind}")(name, *args)
        made.append((module, kind, name))

    yield add
    for module, kind, name in reversed(made):
        getattr(module, f"deregister_{kind}")(name)


@pytest.fixture
def events() -> Iterator[Recorder]:
    rec = Recorder()
    name = f"test-{uuid.uuid4()}"
    subscribers.register(name, rec)
    try:
        yield rec
    finally:
        assert subscribers.deregister(name)


# ---- native fixture plugins ------------------------------------------------------


def toml_str(s: str) -> str:
    """A TOML basic string (JSON string escaping is valid TOML)."""
    import json

    return json.dumps(s)


def write_manifest(directory, plugin_id: str, library: str, symbol: str, *, relay: str = "=0.5.0",
                   native_api: str = "1", kind: str = "rust_dynamic", sha256: str | None = None,
                   name: str = "relay-plugin.toml") -> str:
    import os

    lines = [
        "manifest_version = 1",
        "[plugin]",
        f"id = {toml_str(plugin_id)}",
        f"kind = {toml_str(kind)}",
        "[compat]",
        f"relay = {toml_str(relay)}",
    ]
    if kind == "worker":
        lines += ['worker_protocol = "grpc-v1"', "[defaults]", "enabled = false",
                  "[capabilities]", 'items = ["plugin_worker"]', "[load]",
                  'runtime = "python"', 'entrypoint = "plugin:main"']
    else:
        lines += [f"native_api = {toml_str(native_api)}", "[defaults]", "enabled = false",
                  "[capabilities]", 'items = ["plugin_native"]', "[load]",
                  f"library = {toml_str(library)}", f"symbol = {toml_str(symbol)}"]
    if sha256 is not None:
        lines += ["[integrity]", f"sha256 = {toml_str(sha256)}"]
    path = os.path.join(str(directory), name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def fixture_library(tmp_path_factory):
    """The C fixture plugin, built once per test session (mode 0755)."""
    from _build import build_plugin

    out = tmp_path_factory.mktemp("fixture-lib")
    out.chmod(0o755)
    return build_plugin("fixtures/fixture_native.c", out, "nemo_relay_plugin_fixture")


@pytest.fixture
def plugin_dir(tmp_path):
    tmp_path.chmod(0o755)
    return tmp_path
