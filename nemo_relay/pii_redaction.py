"""PII redaction: keep emails, keys, card numbers and other secrets out of
every recorded event.

The ``pii_redaction`` plugin kind is built into the runtime (C on PCRE2) and
always registered; this module holds its typed configuration.  Enable it
with ``plugin.initialize``::

    await plugin.initialize(plugin.PluginConfig(components=[
        ComponentSpec(PiiRedactionConfig(builtin=BuiltinConfig(action="redact", detector="email")))
    ]))

Redaction changes only what events record: the tool or model still receives
the real values and the caller still gets the real result.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

from . import plugin as _plugin
from ._config_json import plain as _plain
from .plugin import ConfigDiagnostic, ConfigPolicy, ConfigReport

__all__ = [
    "DETECTORS",
    "PII_REDACTION_PLUGIN_KIND",
    "BuiltinConfig",
    "ComponentSpec",
    "ConfigDiagnostic",
    "ConfigPolicy",
    "ConfigReport",
    "LocalModelConfig",
    "PiiRedactionConfig",
    "validate_config",
]

PII_REDACTION_PLUGIN_KIND = "pii_redaction"

# The built-in detectors, by the names a rule's ``detector`` takes.
DETECTORS = (
    "email", "phone", "ip_address", "ipv6", "url",
    "api_key", "uuid", "bearer_token", "jwt", "credit_card",
    "aws_access_key_id", "aws_secret_access_key", "gcp_api_key", "azure_storage_account_key",
)

Behavior = Literal["ignore", "warn", "error"]
Action = Literal["remove", "redact", "regex_replace", "hash", "mask"]


def _object(fields_: dict[str, Any]) -> dict[str, Any]:
    """A JSON object of the given members, None members left out."""
    return {k: _plain(v) for k, v in fields_.items() if v is not None}


@dataclass(slots=True)
class BuiltinConfig:
    """One redaction rule of the built-in backend.

    ``pattern`` (PCRE2 syntax) or ``detector`` (one of ``DETECTORS``) selects
    what to act on; without either, remove/hash/mask act on whole strings.
    ``target_paths`` are JSON pointers ("/user/email"); empty means every
    string leaf.
    """

    action: Action = "remove"
    target_paths: list[str] = field(default_factory=list)
    pattern: str | None = None
    detector: str | None = None
    replacement: str | None = None
    mask_char: str | None = None
    unmasked_prefix: int | None = None
    unmasked_suffix: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"action": self.action, "target_paths": list(self.target_paths)}
        for name in ("pattern", "detector", "replacement", "mask_char", "unmasked_prefix",
                     "unmasked_suffix"):
            if (value := getattr(self, name)) is not None:
                d[name] = value
        return d


@dataclass(slots=True)
class LocalModelConfig:
    """Settings of NeMo Relay's local-model backend.  This runtime has no
    local-model backend: a configuration with ``mode="local_model"`` fails
    validation rather than record payloads unredacted."""

    backend: str | None = None
    model_id: str | None = None
    detector_profile: str | None = None
    allow_network: bool | None = None
    max_latency_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return _object({f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(slots=True)
class PiiRedactionConfig:
    """The ``pii_redaction`` component's config.

    ``input``/``output`` sanitize recorded LLM requests and responses (stream
    chunks included), ``tool_input``/``tool_output`` recorded tool arguments
    and results.  ``builtin`` is one rule or a list of rules applied in order.
    """

    version: int = 1
    mode: Literal["builtin", "local_model"] = "builtin"
    input: bool = True
    output: bool = True
    tool_input: bool = True
    tool_output: bool = True
    priority: int = 100
    codec: str | None = None
    builtin: BuiltinConfig | list[BuiltinConfig] | None = None
    local: LocalModelConfig | None = None
    policy: ConfigPolicy = field(default_factory=ConfigPolicy)

    def to_dict(self) -> dict[str, Any]:
        return _object({f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(slots=True)
class ComponentSpec:
    """A ``pii_redaction`` component for ``plugin.PluginConfig.components``."""

    config: PiiRedactionConfig | dict[str, Any]
    enabled: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"kind": PII_REDACTION_PLUGIN_KIND, "enabled": self.enabled,
                "config": _plain(self.config)}


def validate_config(config: PiiRedactionConfig | dict[str, Any]) -> ConfigReport:
    """Diagnostics for one PII redaction config, without activating it."""
    return _plugin.validate(_plugin.PluginConfig(components=[ComponentSpec(config)]))
