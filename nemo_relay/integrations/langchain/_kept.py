"""Keep the Python object a managed call's function produced next to its JSON."""

from __future__ import annotations

from typing import Any

Json = Any


class Kept:
    """The last result the function produced, with its JSON.  When the
    pipeline hands back that same JSON the original object is returned, so
    Python-only parts (structured responses, artifacts, commands) survive; a
    result an execution intercept replaced is rebuilt from its JSON."""

    __slots__ = ("json", "value", "set")

    def __init__(self) -> None:
        self.set = False
        self.json: Json = None
        self.value: Any = None

    def keep(self, value: Any, as_json: Json) -> Json:
        self.set, self.value, self.json = True, value, as_json
        return as_json

    def matches(self, out: Json) -> bool:
        return self.set and out == self.json
