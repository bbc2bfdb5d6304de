"""Configuration documents of the ``observability`` plugin component, as
upstream's helpers shape them (``to_dict()`` gives the component's JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

from ..plugin import ConfigPolicy
from .atof import AtofEndpointConfig
from .._config_json import plain as _plain

__all__ = ["AtofConfig", "AtifConfig", "HttpStorageConfig", "S3StorageConfig", "OtlpConfig",
           "ObservabilityConfig", "OBSERVABILITY_PLUGIN_KIND", "ComponentSpec"]

OBSERVABILITY_PLUGIN_KIND = "observability"


@dataclass(slots=True)
class AtofConfig:
    """Raw ATOF JSON Lines export (``AtofExporter``)."""

    enabled: bool = False
    output_directory: str | None = None
    filename: str | None = None
    mode: Literal["append", "overwrite"] = "append"
    endpoints: list[AtofEndpointConfig] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(_plain({"enabled": self.enabled, "output_directory": self.output_directory,
                            "filename": self.filename, "mode": self.mode,
                            "endpoints": self.endpoints}))


@dataclass(slots=True)
class S3StorageConfig:
    """S3 upload of ATIF trajectories (accepted for upstream compatibility;
    this build reports it as unsupported)."""

    bucket: str = ""
    key_prefix: str | None = None
    access_key_id: str | None = None
    secret_access_key_var: str | None = None
    session_token_var: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    allow_http: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        return dict(_plain({"type": "s3", **d}))


@dataclass(slots=True)
class HttpStorageConfig:
    """HTTP upload of each ATIF trajectory (one JSON POST per trajectory).
    ``header_env`` maps a header to the environment variable holding its value."""

    endpoint: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    header_env: dict[str, str] = field(default_factory=dict)
    timeout_millis: int = 3000

    def to_dict(self) -> dict[str, Any]:
        return dict(_plain({"type": "http", "endpoint": self.endpoint, "headers": self.headers,
                            "header_env": self.header_env,
                            "timeout_millis": self.timeout_millis}))


@dataclass(slots=True)
class AtifConfig:
    """ATIF trajectory export, one file per top-level agent scope."""

    enabled: bool = False
    agent_name: str = "NeMo Relay"
    agent_version: str | None = None
    model_name: str = "unknown"
    tool_definitions: list[dict[str, Any]] | None = None
    extra: dict[str, Any] | None = None
    output_directory: str | None = None
    filename_template: str = "nemo-relay-atif-{session_id}.json"
    storage: list[S3StorageConfig | HttpStorageConfig] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(_plain({f.name: getattr(self, f.name) for f in fields(self)}))


@dataclass(slots=True)
class OtlpConfig:
    """OTLP export settings shared by OpenTelemetry and OpenInference.

    ``join_application_trace`` (a nemo_relay extension): spans go through the
    application's global ``TracerProvider`` and an agent's top-level spans
    become children of the span that was current where the agent started."""

    enabled: bool = False
    transport: Literal["http_binary", "grpc"] = "http_binary"
    endpoint: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    resource_attributes: dict[str, str] = field(default_factory=dict)
    service_name: str = "nemo-relay"
    service_namespace: str | None = None
    service_version: str | None = None
    instrumentation_scope: str | None = None
    timeout_millis: int = 3000
    join_application_trace: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(_plain({f.name: getattr(self, f.name) for f in fields(self)}))


@dataclass(slots=True)
class ObservabilityConfig:
    """The ``observability`` component's config document."""

    version: int = 1
    atof: AtofConfig | None = None
    atif: AtifConfig | None = None
    opentelemetry: OtlpConfig | None = None
    openinference: OtlpConfig | None = None
    policy: ConfigPolicy = field(default_factory=ConfigPolicy)

    def to_dict(self) -> dict[str, Any]:
        return dict(_plain({f.name: getattr(self, f.name) for f in fields(self)}))


@dataclass(slots=True)
class ComponentSpec:
    """The ``observability`` component of a plugin configuration."""

    config: ObservabilityConfig | dict[str, Any]
    enabled: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"kind": OBSERVABILITY_PLUGIN_KIND, "enabled": self.enabled,
                "config": _plain(self.config)}
