"""Plugins: reusable behaviour installed from configuration.

A *plugin kind* turns a component's config into middleware.  Kinds come from
Python objects (``register``) or from trusted native libraries
(``load_native_plugins``, ``initialize_with_dynamic_plugins``).  A
configuration is validated and initialized as one transaction: on failure
everything it registered is rolled back and the previous configuration is
restored.

Explicit beats implicit: ``initialize`` reads no ambient ``plugins.toml``
unless ``discover=True``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tomllib
import warnings
from collections.abc import AsyncIterator, Awaitable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, TypedDict

from . import _manifest_text, _native, subscribers
from ._native import NativePluginActivation, PluginContext
from .errors import PluginLoadError

__all__ = [
    "ComponentSpec",
    "ConfigDiagnostic",
    "ConfigPolicy",
    "ConfigReport",
    "DynamicPluginActivationSpec",
    "NativePluginActivation",
    "NativePluginLoadSpec",
    "Plugin",
    "PluginConfig",
    "PluginContext",
    "PluginHostActivation",
    "check_manifest",
    "clear",
    "deregister",
    "initialize",
    "initialize_with_dynamic_plugins",
    "list_kinds",
    "load_dynamic_plugin_activation_specs",
    "load_native_plugins",
    "plugin",
    "register",
    "report",
    "validate",
]

PolicyLevel = Literal["ignore", "warn", "error"]


class ConfigDiagnostic(TypedDict, total=False):
    level: Literal["warning", "error"]
    code: str
    message: str
    component: str
    field: str


class ConfigReport(TypedDict):
    diagnostics: list[ConfigDiagnostic]


@dataclass
class ConfigPolicy:
    unknown_component: PolicyLevel = "warn"
    unknown_field: PolicyLevel = "warn"
    unsupported_value: PolicyLevel = "error"

    def to_dict(self) -> dict[str, Any]:
        return {
            "unknown_component": self.unknown_component,
            "unknown_field": self.unknown_field,
            "unsupported_value": self.unsupported_value,
        }


@dataclass
class ComponentSpec:
    kind: str
    enabled: bool = True
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "enabled": self.enabled, "config": dict(self.config)}


@dataclass
class PluginConfig:
    version: int = 1
    components: list[Any] = field(default_factory=list)
    policy: ConfigPolicy = field(default_factory=ConfigPolicy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "components": [_component_dict(c) for c in self.components],
            "policy": self.policy.to_dict() if isinstance(self.policy, ConfigPolicy) else dict(self.policy),
        }


class Plugin(Protocol):
    """What ``register`` expects of a Python plugin (``validate`` is optional)."""

    def register(self, plugin_config: dict[str, Any], context: PluginContext, /) -> None: ...


def _component_dict(c: Any) -> dict[str, Any]:
    if isinstance(c, dict):
        return c
    if hasattr(c, "to_dict"):
        d = c.to_dict()
        return {k: v for k, v in d.items() if v is not None}
    raise TypeError(f"a component must be a ComponentSpec or a dict, not {type(c).__name__}")


def _config_dict(config: PluginConfig | dict[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return PluginConfig().to_dict()
    if isinstance(config, PluginConfig):
        doc = config.to_dict()
    elif isinstance(config, dict):
        doc = config
    else:
        raise TypeError(f"config must be a PluginConfig or a dict, not {type(config).__name__}")
    _builtin_kinds(doc)
    return doc


def _builtin_kinds(doc: dict[str, Any]) -> None:
    """Registers the built-in kinds a configuration names (observability, pricing)."""
    components = doc.get("components")
    if isinstance(components, list) and any(
            isinstance(c, dict) and c.get("kind") == "observability" for c in components):
        from .observability.component import ensure_registered

        ensure_registered()
    if isinstance(components, list) and any(isinstance(c, dict) and c.get("kind") == "pricing" for c in components):
        _native._pricing_register_kind()


# ---- configuration -----------------------------------------------------------


def validate(config: PluginConfig | dict[str, Any]) -> ConfigReport:
    """Diagnostics for a configuration; no side effects and no file discovery."""
    return _native.plugin_validate(_config_dict(config))


def _discovered_files() -> list[Path]:
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    candidates = [Path(xdg) / "nemo-relay" / "plugins.toml", Path("/etc/nemo-relay/plugins.toml")]
    return [p for p in candidates if p.is_file()]


def _layer(config: dict[str, Any]) -> tuple[dict[str, Any], list[ConfigDiagnostic]]:
    """Discovered plugins.toml components under the argument's (the argument wins per kind)."""
    components: list[dict[str, Any]] = []
    notes: list[ConfigDiagnostic] = []
    for path in _discovered_files():
        with open(path, "rb") as f:
            doc = tomllib.load(f)
        found = [c for c in doc.get("components", []) if c.get("enabled", True)]
        if found:
            components.extend(found)
            notes.append({"level": "warning", "code": "plugin.configuration_inherited",
                          "message": f"plugin configuration inherited from {path}"})
    explicit = list(config.get("components", []))
    kinds = {c.get("kind") for c in explicit}
    merged = dict(config)
    merged["components"] = [c for c in components if c.get("kind") not in kinds] + explicit
    return merged, notes


async def initialize(config: PluginConfig | dict[str, Any] | None = None, *, discover: bool = False) -> ConfigReport:
    """Replace the active configuration (validate, roll back the old one,
    register every enabled component; restore the old one on failure)."""
    doc = _config_dict(config)
    notes: list[ConfigDiagnostic] = []
    if discover:
        doc, notes = _layer(doc)
    result = _native.plugin_initialize(doc)
    result["diagnostics"] = notes + result["diagnostics"]
    try:
        _warn_diagnostics(result)
    except BaseException:  # a warning turned into an error: install nothing
        clear()
        raise
    return result


def _warn_diagnostics(result: ConfigReport) -> None:
    """One RuntimeWarning per warning-level diagnostic of an installed
    configuration, naming the plugin and the field (a config the plugin
    ignores in part should not go unnoticed)."""
    for d in result["diagnostics"]:
        if d.get("level") != "warning":
            continue
        where = [f"plugin '{d['component']}'"] if d.get("component") else []
        if d.get("field"):
            where.append(f"field '{d['field']}'")
        where.append(d.get("code", "warning"))
        warnings.warn(f"{d.get('message', '')} [{', '.join(where)}]", RuntimeWarning, stacklevel=3)


def clear() -> None:
    """Roll back every registration of the active configuration (kinds stay)."""
    subscribers.flush()
    _native.plugin_clear()


@contextlib.asynccontextmanager
async def plugin(config: PluginConfig | dict[str, Any] | None = None, *, clear_on_exit: bool = True) -> AsyncIterator[ConfigReport]:
    """``async with plugin.plugin(config) as report:`` -- initialize, then clear."""
    result = await initialize(config)
    try:
        yield result
    finally:
        subscribers.flush()
        if clear_on_exit:
            clear()


def report() -> ConfigReport | None:
    """The report of the active configuration, or None."""
    return _native.plugin_report()


def list_kinds() -> list[str]:
    """Registered plugin kinds, sorted."""
    return _native.plugin_list_kinds()


def register(plugin_kind: str, plugin: Plugin) -> None:
    """Register a Python plugin kind (``AlreadyExists`` if taken)."""
    _native.plugin_register(plugin_kind, plugin)


def deregister(plugin_kind: str) -> bool:
    return _native.plugin_deregister(plugin_kind)


# ---- native plugins ----------------------------------------------------------------


def _manifest_json(path: str, plugin_id: str | None) -> str | None:
    """JSON text of a TOML manifest (any name but *.json); None for a JSON
    manifest, which the C loader reads itself."""
    if _manifest_text.is_json_manifest(path):
        return None
    return _manifest_text.toml_as_json(path, plugin_id)


def _resolve(manifest_ref: str | os.PathLike[str], plugin_id: str | None) -> tuple[str, str | None]:
    try:
        path = _native.resolve_manifest(os.fspath(manifest_ref))
    except PluginLoadError as exc:
        exc.plugin_id = exc.plugin_id or plugin_id
        raise
    return path, _manifest_json(path, plugin_id)


def check_manifest(path: str | os.PathLike[str], *, plugin_id: str | None = None,
                   trust_writable: bool = False) -> dict[str, Any]:
    """Every manifest check that needs no ``dlopen`` (the library is never
    loaded): fields, id, kind, relay version, native_api, library path,
    existence, sha256 and permissions.  Returns the manifest's facts or raises
    ``PluginLoadError`` naming the failed check."""
    resolved, text = _resolve(path, plugin_id)
    facts = _native.check_manifest(resolved, text, plugin_id, trust_writable, True)
    facts["manifest"] = resolved
    return facts


@dataclass
class NativePluginLoadSpec:
    plugin_id: str
    manifest_ref: str
    trust_writable: bool = False


def load_native_plugins(specs: Sequence[NativePluginLoadSpec]) -> NativePluginActivation:
    """Load native plugins and register their kinds.  All or nothing: on a
    failure everything loaded so far is unloaded again.

    Clear any configuration using these kinds before ``close()``.
    """
    native_specs = []
    for spec in specs:
        if not isinstance(spec, NativePluginLoadSpec):
            raise TypeError(f"expected NativePluginLoadSpec, not {type(spec).__name__}")
        path, text = _resolve(spec.manifest_ref, spec.plugin_id)
        native_specs.append((spec.plugin_id, path, text, bool(spec.trust_writable)))
    for plugin_id, path, text, _ in native_specs:
        _warn_ignored_names(plugin_id, path, text)
    return _native.load_native_plugins(native_specs)


def _warn_ignored_names(plugin_id: str, path: str, text: str | None) -> None:
    """A RuntimeWarning for each table or key of the manifest that nothing
    reads (a near-miss of a known name is already an error)."""
    try:
        ignored = _native.manifest_warnings(path, text)
    except PluginLoadError as exc:
        exc.plugin_id = exc.plugin_id or plugin_id
        raise
    for what in ignored:
        warnings.warn(f"dynamic plugin '{plugin_id}': {path}: {what}", RuntimeWarning, stacklevel=3)


DynamicPluginKind = Literal["rust_dynamic", "native"]


@dataclass
class DynamicPluginActivationSpec:
    plugin_id: str
    kind: str
    manifest_ref: str
    config: dict[str, Any] = field(default_factory=dict)
    environment_ref: str | None = None
    trust_writable: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"plugin_id": self.plugin_id, "kind": self.kind,
                             "manifest_ref": self.manifest_ref, "config": self.config}
        if self.environment_ref is not None:
            d["environment_ref"] = self.environment_ref
        return d


class _Done:
    """An already-finished awaitable: ``close()`` works with and without await."""

    def __await__(self) -> Generator[Any, None, None]:
        yield from ()


class PluginHostActivation:
    """A configuration plus the native plugins it loaded, owned as one.

    ``close()`` (idempotent; may be awaited) clears the configuration, then
    unloads the plugins, then gives up the host's ownership.  Only one host
    may be active in a process.
    """

    def __init__(self, report: ConfigReport, activation: NativePluginActivation, lease: int) -> None:
        self._report = report
        self._activation: NativePluginActivation | None = activation
        self._lease = lease

    @property
    def report(self) -> ConfigReport:
        return self._report

    @property
    def is_active(self) -> bool:
        return self._activation is not None

    @property
    def kinds(self) -> tuple[str, ...]:
        return self._activation.kinds if self._activation is not None else ()

    def close(self) -> Awaitable[None]:
        activation, self._activation = self._activation, None
        if activation is not None:
            try:
                subscribers.flush()
                _native.plugin_clear(self._lease)
            finally:
                try:
                    activation.close()
                finally:
                    _native.plugin_lease_release(self._lease)
        return _Done()

    def __enter__(self) -> "PluginHostActivation":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> "PluginHostActivation":
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    def __del__(self) -> None:
        if getattr(self, "_activation", None) is not None:
            self.close()

    def __repr__(self) -> str:
        state = "active" if self.is_active else "closed"
        return f"<PluginHostActivation {state} kinds={self.kinds!r}>"


def _check_dynamic_specs(specs: Sequence[DynamicPluginActivationSpec | dict[str, Any]]) -> list[DynamicPluginActivationSpec]:
    out: list[DynamicPluginActivationSpec] = []
    for s in specs:
        spec = DynamicPluginActivationSpec(**s) if isinstance(s, dict) else s
        if not isinstance(spec, DynamicPluginActivationSpec):
            raise TypeError(f"expected DynamicPluginActivationSpec, not {type(spec).__name__}")
        if spec.kind == "worker":
            raise ValueError(f"dynamic plugin '{spec.plugin_id}' is a worker plugin; this host loads "
                             "rust_dynamic and native plugins only")
        if spec.kind not in ("rust_dynamic", "native"):
            raise ValueError(f"unknown variant '{spec.kind}', expected 'rust_dynamic' or 'native'")
        if not isinstance(spec.config, dict):
            raise ValueError(f"dynamic plugin '{spec.plugin_id}': config must be a dict")
        out.append(spec)
    if not out:
        raise ValueError("initialize_with_dynamic_plugins needs at least one dynamic plugin")
    _check_unique_ids(out, "")
    return out


def _check_unique_ids(specs: Sequence[DynamicPluginActivationSpec], where: str) -> None:
    ids = [s.plugin_id for s in specs]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"{where}duplicate dynamic plugin ids: {', '.join(dup)}")


async def initialize_with_dynamic_plugins(
    config: PluginConfig | dict[str, Any] | None,
    dynamic_plugins: Sequence[DynamicPluginActivationSpec | dict[str, Any]],
) -> PluginHostActivation:
    """Load native plugins and initialize ``config`` plus one enabled component
    per plugin (``kind = plugin_id``) as one transaction.

    On any failure the plugins are unloaded again and nothing stays
    registered.  Use the result with ``async with`` (or ``with``).
    """
    specs = _check_dynamic_specs(dynamic_plugins)
    doc = _config_dict(config)
    lease = _native.plugin_lease_acquire()
    activation: NativePluginActivation | None = None
    try:
        activation = load_native_plugins(
            [NativePluginLoadSpec(s.plugin_id, s.manifest_ref, s.trust_writable) for s in specs])
        doc = dict(doc)
        doc["components"] = list(doc.get("components", [])) + [
            {"kind": s.plugin_id, "enabled": True, "config": s.config} for s in specs]
        result = _native.plugin_initialize(doc, lease)
    except BaseException:
        if activation is not None:
            activation.close()
        _native.plugin_lease_release(lease)
        raise
    host = PluginHostActivation(result, activation, lease)
    try:
        _warn_diagnostics(result)
    except BaseException:  # a warning turned into an error: install nothing
        host.close()
        raise
    return host


def load_dynamic_plugin_activation_specs(plugins_toml: str | os.PathLike[str]) -> list[DynamicPluginActivationSpec]:
    """Specs for every ``[[plugins.dynamic]]`` record of a plugins.toml file.

    Each record has ``manifest`` (relative to the file) and optional
    ``config``; the id and kind are read from the manifest.  Nothing is loaded.
    """
    path = Path(plugins_toml)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"invalid plugins.toml {path}: {exc}") from None
    records = doc.get("plugins", {}).get("dynamic", [])
    if not isinstance(records, list):
        raise ValueError(f"{path}: plugins.dynamic must be an array of tables")
    specs: list[DynamicPluginActivationSpec] = []
    for i, record in enumerate(records):
        if not isinstance(record, dict) or set(record) - {"manifest", "config"}:
            raise ValueError(f"{path}: plugins.dynamic[{i}] may only have 'manifest' and 'config'")
        if not isinstance(record.get("manifest"), str):
            raise ValueError(f"{path}: plugins.dynamic[{i}].manifest must be a string")
        config = record.get("config", {})
        try:
            json.dumps(config)
        except (TypeError, ValueError):
            raise ValueError(f"{path}: plugins.dynamic[{i}].config is not JSON-compatible") from None
        manifest = (path.parent / record["manifest"]).resolve()
        try:
            resolved = _native.resolve_manifest(str(manifest))
            text = _manifest_json(resolved, None)
            _native.manifest_warnings(resolved, text)  # parses and validates: typed errors
            plugin_id, kind = _manifest_text.identity(resolved, text)
        except PluginLoadError as exc:
            raise PluginLoadError(f"{path}: plugins.dynamic[{i}]: {exc}", plugin_id=exc.plugin_id,
                                  manifest=exc.manifest, check=exc.check) from None
        specs.append(DynamicPluginActivationSpec(plugin_id=plugin_id, kind=kind,
                                                 manifest_ref=str(manifest), config=config))
    _check_unique_ids(specs, f"{path}: ")
    return specs
