"""Typed use of nemo_relay.observability (checked with mypy --strict)."""

from __future__ import annotations

from typing import Any

import nemo_relay
from nemo_relay.observability import AtofConfig, ComponentSpec, ObservabilityConfig, OtlpConfig


def atof(directory: str) -> nemo_relay.AtofExporter:
    cfg = nemo_relay.AtofExporterConfig()
    cfg.output_directory = directory
    cfg.mode = nemo_relay.AtofExporterMode.Overwrite
    cfg.endpoints = [nemo_relay.AtofEndpointConfig("http://127.0.0.1:1/x", timeout_millis=500)]
    exporter = nemo_relay.AtofExporter(cfg)
    exporter.register("atof")
    path: str = exporter.path
    assert path
    return exporter


def spans(endpoint: str) -> tuple[nemo_relay.OpenTelemetrySubscriber, nemo_relay.OpenInferenceSubscriber]:
    otel = nemo_relay.OpenTelemetryConfig()
    otel.endpoint = endpoint
    otel.set_header("authorization", "Bearer x")
    otel.join_application_trace = True
    oi = nemo_relay.OpenInferenceConfig()
    oi.resource_attributes = {"deployment.environment": "dev"}
    return nemo_relay.OpenTelemetrySubscriber(otel), nemo_relay.OpenInferenceSubscriber(oi)


def atif() -> dict[str, Any]:
    exporter = nemo_relay.AtifExporter("s", "agent", "1.0", model_name="m")
    text: str = exporter.export_json()
    assert text
    return exporter.export()


def component() -> dict[str, Any]:
    return ComponentSpec(ObservabilityConfig(atof=AtofConfig(enabled=True),
                                             openinference=OtlpConfig(enabled=True))).to_dict()
