"""The JSON form of the plugin components' config dataclasses.

Shared by ``observability``, ``pii_redaction`` and ``pricing``: a config
object becomes the JSON document its component validates, with unset (None)
fields left out so the component's defaults apply.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any


def plain(value: Any) -> Any:
    """value as JSON: ``to_dict`` holders and dataclasses become dicts, tuples
    lists, and None members of objects are dropped."""
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        return to_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(v) for f in fields(value) if (v := getattr(value, f.name)) is not None}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    return value
