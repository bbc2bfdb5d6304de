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
def events() -> Iterator[Recorder]:
    rec = Recorder()
    name = f"test-{uuid.uuid4()}"
    subscribers.register(name, rec)
    try:
        yield rec
    finally:
        assert subscribers.deregister(name)
