"""Reading manifest files for the C loader: TOML becomes JSON text here, with
errors that name what is wrong in the file the user wrote.

Files are read by the loader's own reader (``_native.read_manifest``): a
regular file of at most 1 MiB, never blocking on a FIFO, whatever the format.
A manifest named ``*.json`` is JSON; any other name is TOML.
"""

from __future__ import annotations

import datetime
import json
import math
import tomllib
from typing import Any, NoReturn

from . import _native
from .errors import PluginLoadError


def is_json_manifest(path: str) -> bool:
    return path.endswith(".json")


def _fail(label: str, detail: str, path: str, plugin_id: str | None) -> NoReturn:
    raise PluginLoadError(f"invalid {label}: {detail} (in {path})",
                          plugin_id=plugin_id, manifest=path, check="manifest")


def read_text(path: str, plugin_id: str | None) -> str:
    """The manifest file's text (UTF-8), or PluginLoadError."""
    try:
        raw = _native.read_manifest(path)
    except PluginLoadError as exc:
        exc.plugin_id = exc.plugin_id or plugin_id
        raise
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        label = "relay-plugin.json" if is_json_manifest(path) else "relay-plugin.toml"
        _fail(label, f"manifest is not valid UTF-8 (byte offset {exc.start})", path, plugin_id)


def _not_json(value: Any, key: str) -> str | None:
    """Why a decoded TOML value has no JSON form, naming its key, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{key} = {value} is not a finite number"
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return f"{key} = {value.isoformat()} is a TOML date or time; no manifest field takes one"
    if isinstance(value, dict):
        for k, v in value.items():
            problem = _not_json(v, f"{key}.{k}" if key else k)
            if problem is not None:
                return problem
    if isinstance(value, list):
        for i, v in enumerate(value):
            problem = _not_json(v, f"{key}[{i}]")
            if problem is not None:
                return problem
    return None


def toml_as_json(path: str, plugin_id: str | None) -> str:
    """JSON text of the TOML manifest at path, or PluginLoadError naming the
    file, the caller's plugin id and what is wrong."""
    text = read_text(path, plugin_id)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        hint = ("; a JSON manifest must be named *.json"
                if not path.endswith(".toml") and text.lstrip().startswith("{") else "")
        _fail("relay-plugin.toml", f"{exc}{hint}", path, plugin_id)
    problem = _not_json(doc, "")
    if problem is not None:
        _fail("relay-plugin.toml", problem, path, plugin_id)
    return json.dumps(doc)


def identity(path: str, text: str | None) -> tuple[str, str]:
    """(plugin.id stripped, plugin.kind) of a manifest that the C checker has
    already parsed and validated (text: its JSON, or None to read a JSON
    manifest's file)."""
    doc = json.loads(text if text is not None else read_text(path, None))
    plugin = doc["plugin"]
    return plugin["id"].strip(), plugin["kind"]
