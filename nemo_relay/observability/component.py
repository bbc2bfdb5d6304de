"""The ``observability`` plugin component: installs the exporters a config
document asks for (``ObservabilityConfig.to_dict()``), as one part of a
plugin configuration.

    await plugin.initialize({"components": [{"kind": "observability", "config": {
        "version": 1,
        "atof": {"enabled": True, "output_directory": "traces"},
        "openinference": {"enabled": True, "endpoint": "http://127.0.0.1:6006/v1/traces"}}}]})

The kind is built in: ``plugin.validate`` / ``initialize`` register it the
first time a configuration names it.  Each exporter's queue is registered
through the plugin context, so ``plugin.clear()`` (or a new ``initialize``)
removes it; the exporter then writes out what it holds and closes itself on
its own thread.  ATIF writes one trajectory file per top-level agent scope
when that scope ends (and uploads it to each ``http`` storage).
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Sequence
from typing import Any

from .atif import build_trajectory
from .atof import AtofEndpointConfig, AtofExporter, AtofExporterConfig, AtofExporterMode, check_endpoint
from ._drain import Drain
from ._spans import TRANSPORTS, OtlpSettings
from .config import OBSERVABILITY_PLUGIN_KIND

__all__ = ["ObservabilityPlugin", "ensure_registered"]

_SECTIONS = {
    "atof": {"enabled", "output_directory", "filename", "mode", "endpoints"},
    "atif": {"enabled", "agent_name", "agent_version", "model_name", "tool_definitions", "extra",
             "output_directory", "filename_template", "storage"},
    "opentelemetry": {"enabled", "transport", "endpoint", "headers", "resource_attributes",
                      "service_name", "service_namespace", "service_version",
                      "instrumentation_scope", "timeout_millis", "join_application_trace"},
}
_SECTIONS["openinference"] = _SECTIONS["opentelemetry"]
_TOP = {"version", "policy", *_SECTIONS}

Diagnostic = dict[str, str]


def _diag(out: list[Diagnostic], level: str, code: str, field: str, message: str) -> None:
    out.append({"level": level, "code": f"observability.{code}", "component": OBSERVABILITY_PLUGIN_KIND,
                "field": field, "message": f"observability: {message}"})


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def validate(config: Any) -> list[Diagnostic]:
    """Diagnostics for an observability config document (errors block install)."""
    out: list[Diagnostic] = []
    if not isinstance(config, dict):
        _diag(out, "error", "invalid_plugin_config", "config", "config must be an object")
        return out
    version = config.get("version", 1)
    if version != 1:
        _diag(out, "error", "unsupported_config_version", "version",
              f"unsupported config version {version!r} (this build reads version 1)")
    for key in config:
        if key not in _TOP:
            _diag(out, "warning", "unknown_field", key, f"unknown field '{key}' is ignored")
    for section, known in _SECTIONS.items():
        value = config.get(section)
        if value is None:
            continue
        if not isinstance(value, dict):
            _diag(out, "error", "invalid_plugin_config", section, f"'{section}' must be an object")
            continue
        for key in value:
            if key not in known:
                _diag(out, "warning", "unknown_field", key, f"unknown field '{section}.{key}' is ignored")
        if "enabled" in value and not isinstance(value["enabled"], bool):
            _diag(out, "error", "unsupported_value", "enabled", f"'{section}.enabled' must be true or false")
        {"atof": _check_atof, "atif": _check_atif}.get(section, _check_otlp)(section, value, out)
    return out


def _check_str(section: str, value: dict[str, Any], key: str, out: list[Diagnostic]) -> None:
    if key in value and value[key] is not None and not isinstance(value[key], str):
        _diag(out, "error", "unsupported_value", key, f"'{section}.{key}' must be a string")


def _check_timeout(value: dict[str, Any], field: str, where: str, out: list[Diagnostic]) -> None:
    t = value.get("timeout_millis", 3000)
    if not _is_int(t) or t <= 0:
        _diag(out, "error", "unsupported_value", field, f"{where}.timeout_millis must be a positive integer")


def _check_atof(section: str, value: dict[str, Any], out: list[Diagnostic]) -> None:
    for key in ("output_directory", "filename"):
        _check_str(section, value, key, out)
    if value.get("mode", "append") not in ("append", "overwrite"):
        _diag(out, "error", "unsupported_value", "mode",
              f"atof.mode must be 'append' or 'overwrite', not {value.get('mode')!r}")
    endpoints = value.get("endpoints") or []
    if not isinstance(endpoints, list):
        _diag(out, "error", "unsupported_value", "endpoints", "atof.endpoints must be a list")
        return
    for i, ep in enumerate(endpoints):
        try:
            check_endpoint(i, _endpoint(ep))
        except (TypeError, ValueError) as exc:
            _diag(out, "error", "unsupported_value", "endpoints", str(exc))


def _endpoint(ep: Any) -> AtofEndpointConfig:
    if isinstance(ep, AtofEndpointConfig):
        return ep
    if not isinstance(ep, dict) or "url" not in ep:
        raise ValueError("an endpoint must be an object with a url")
    known = {"url", "transport", "headers", "timeout_millis", "field_name_policy"}
    unknown = set(ep) - known
    if unknown:
        raise ValueError(f"unknown endpoint field(s): {', '.join(sorted(unknown))}")
    return AtofEndpointConfig(**ep)


def _check_atif(section: str, value: dict[str, Any], out: list[Diagnostic]) -> None:
    for key in ("agent_name", "agent_version", "model_name", "output_directory"):
        _check_str(section, value, key, out)
    template = value.get("filename_template", "nemo-relay-atif-{session_id}.json")
    if not isinstance(template, str) or "{session_id}" not in template:
        _diag(out, "error", "unsupported_value", "filename_template",
              "atif.filename_template must contain {session_id}")
    else:
        try:
            template.format(session_id="x")
        except (KeyError, IndexError, ValueError) as exc:
            _diag(out, "error", "unsupported_value", "filename_template",
                  f"atif.filename_template may only use {{session_id}} ({exc})")
    tools = value.get("tool_definitions")
    if tools is not None and not (isinstance(tools, list) and all(isinstance(t, dict) for t in tools)):
        _diag(out, "error", "unsupported_value", "tool_definitions", "atif.tool_definitions must be a list of objects")
    for i, st in enumerate(value.get("storage") or []):
        kind = st.get("type") if isinstance(st, dict) else None
        if kind == "s3":
            _diag(out, "error", "unsupported_value", "storage",
                  f"atif.storage[{i}]: S3 storage is not supported by nemo_relay (use type 'http')")
        elif kind != "http":
            _diag(out, "error", "unsupported_value", "storage", f"atif.storage[{i}]: type must be 'http'")
        else:
            url = st.get("endpoint")
            if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                _diag(out, "error", "unsupported_value", "storage",
                      f"atif.storage[{i}].endpoint must be an http(s) URL")
            _check_timeout(st, "storage", f"atif.storage[{i}]", out)


def _check_otlp(section: str, value: dict[str, Any], out: list[Diagnostic]) -> None:
    if value.get("transport", "http_binary") not in TRANSPORTS:
        _diag(out, "error", "unsupported_value", "transport",
              f"{section}.transport must be one of {', '.join(TRANSPORTS)}")
    _check_timeout(value, "timeout_millis", section, out)
    ep = value.get("endpoint")
    if ep is not None and (not isinstance(ep, str) or "://" not in ep):
        _diag(out, "error", "unsupported_value", "endpoint", f"{section}.endpoint must be a URL")
    for key in ("headers", "resource_attributes"):
        d = value.get(key, {})
        if not isinstance(d, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in d.items()):
            _diag(out, "error", "unsupported_value", key, f"{section}.{key} must map strings to strings")
    if value.get("enabled"):
        try:
            from ._spans import require_otel

            require_otel(section)
        except ImportError as exc:
            _diag(out, "error", "feature_disabled", "enabled", str(exc))


def _otlp_settings(cls: type[OtlpSettings], value: dict[str, Any]) -> OtlpSettings:
    cfg = cls()
    for key in ("transport", "endpoint", "service_name", "service_namespace", "service_version",
                "instrumentation_scope", "timeout_millis"):
        if value.get(key) is not None:
            setattr(cfg, key, value[key])
    cfg.join_application_trace = bool(value.get("join_application_trace", False))
    cfg.headers = dict(value.get("headers") or {})
    cfg.resource_attributes = dict(value.get("resource_attributes") or {})
    return cfg


class _AtifWriter:
    """ATIF for the component: one trajectory per top-level agent scope,
    written (and uploaded) when that scope ends; runs on the drain thread."""

    def __init__(self, value: dict[str, Any]) -> None:
        self._agent = {"name": value.get("agent_name", "NeMo Relay"),
                       "version": value.get("agent_version") or "0.0.0",
                       "model_name": value.get("model_name"),
                       "tool_definitions": value.get("tool_definitions"), "extra": value.get("extra")}
        if self._agent["model_name"] == "unknown":
            self._agent["model_name"] = None  # upstream's placeholder: fill from the run
        self._dir = value.get("output_directory") or os.getcwd()
        self._template = value.get("filename_template", "nemo-relay-atif-{session_id}.json")
        self._storage = [s for s in value.get("storage") or [] if s.get("type") == "http"]
        self._root_of: dict[str, str] = {}
        self._runs: dict[str, list[dict[str, Any]]] = {}
        self.written: list[str] = []
        os.makedirs(self._dir, exist_ok=True)

    def __call__(self, events: Sequence[Any]) -> None:
        for e in events:
            ev = e.to_dict()
            parent = ev.get("parent_uuid")
            root = self._root_of.get(parent) if parent else None
            if ev.get("kind") == "scope" and ev.get("scope_category") == "start":
                if root is None and ev.get("category") == "agent":
                    root = ev["uuid"]
                    self._runs[root] = []
                if root is not None:
                    self._root_of[ev["uuid"]] = root
            elif ev.get("kind") == "scope":
                root = self._root_of.pop(ev["uuid"], root)
            if root is None or root not in self._runs:
                continue
            self._runs[root].append(ev)
            if ev.get("kind") == "scope" and ev.get("scope_category") == "end" and ev["uuid"] == root:
                self._write(root, self._runs.pop(root))

    def _write(self, root: str, events: list[dict[str, Any]]) -> None:
        meta = events[0].get("metadata")
        if not isinstance(meta, dict):
            meta = {}
        session = meta.get("session_id") or meta.get("session") or root
        traj = build_trajectory(events, session_id=str(session), agent=self._agent)
        body = json.dumps(traj, ensure_ascii=False, indent=2)
        path = os.path.join(self._dir, self._template.format(session_id=session))
        with open(path, "w", encoding="utf-8") as f:
            f.write(body)
        self.written.append(path)
        for i, st in enumerate(self._storage):
            headers = {"Content-Type": "application/json", **st.get("headers", {})}
            for header, var in (st.get("header_env") or {}).items():
                if os.environ.get(var) is not None:
                    headers[header] = os.environ[var]
            req = urllib.request.Request(st["endpoint"], data=body.encode(), headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=st.get("timeout_millis", 3000) / 1000) as r:
                    r.read()
            except (OSError, urllib.error.URLError) as exc:
                warnings.warn(f"nemo_relay: ATIF upload to storage[{i}] {st['endpoint']} failed: {exc}",
                              RuntimeWarning, stacklevel=1)


class ObservabilityPlugin:
    """The ``observability`` plugin kind."""

    def validate(self, plugin_config: dict[str, Any]) -> list[Diagnostic]:
        return validate(plugin_config)

    def register(self, plugin_config: dict[str, Any], context: Any) -> None:
        cfg = plugin_config
        section = cfg.get("atof")
        if isinstance(section, dict) and section.get("enabled"):
            ac = AtofExporterConfig()
            if section.get("output_directory"):
                ac.output_directory = section["output_directory"]
            if section.get("filename"):
                ac.filename = section["filename"]
            ac.mode = AtofExporterMode(section.get("mode", "append"))
            ac.endpoints = [_endpoint(e) for e in section.get("endpoints") or []]
            AtofExporter(ac, _config_owned=True)._drain.register_in(context, "atof")
        section = cfg.get("atif")
        if isinstance(section, dict) and section.get("enabled"):
            Drain("ATIF exporter", _AtifWriter(section), capacity=8192,
                  close_when_unregistered=True).register_in(context, "atif")
        for name in ("opentelemetry", "openinference"):
            section = cfg.get(name)
            if isinstance(section, dict) and section.get("enabled"):
                if name == "opentelemetry":
                    from .otel import OpenTelemetryConfig, OpenTelemetrySubscriber

                    sub: Any = OpenTelemetrySubscriber(
                        _otlp_settings(OpenTelemetryConfig, section), _config_owned=True)  # type: ignore[arg-type]
                else:
                    from .openinference import OpenInferenceConfig, OpenInferenceSubscriber

                    sub = OpenInferenceSubscriber(
                        _otlp_settings(OpenInferenceConfig, section), _config_owned=True)  # type: ignore[arg-type]
                if sub._capture is not None:
                    context.register_subscriber(f"{name}.application-context", sub._capture)
                sub._drain.register_in(context, name)


_registered = threading.Lock()


def ensure_registered() -> None:
    """Registers the built-in ``observability`` kind if it is not yet."""
    from .. import _native

    with _registered:
        if OBSERVABILITY_PLUGIN_KIND not in _native.plugin_list_kinds():
            _native.plugin_register(OBSERVABILITY_PLUGIN_KIND, ObservabilityPlugin())
