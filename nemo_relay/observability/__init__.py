"""Exporters that take the runtime's events out of the process, and the
``observability`` plugin component that installs them from configuration.

- ``AtofExporter``: raw ATOF 0.1 JSON Lines to a file and HTTP endpoints.
- ``AtifExporter``: ATIF trajectories built from LLM and tool scopes.
- ``OpenTelemetrySubscriber`` / ``OpenInferenceSubscriber``: one span per
  scope over OTLP (needs the ``otel`` extra: ``pip install nemo-relay[otel]``).

None of them does I/O on the thread that emits an event: each one queues a
reference to the event and a background thread does the work (SPEC D13).
"""

from __future__ import annotations

from .atif import AtifExporter
from .atof import AtofEndpointConfig, AtofExporter, AtofExporterConfig, AtofExporterMode
from .config import (
    OBSERVABILITY_PLUGIN_KIND,
    AtifConfig,
    AtofConfig,
    ComponentSpec,
    HttpStorageConfig,
    ObservabilityConfig,
    OtlpConfig,
    S3StorageConfig,
)
from ..plugin import ConfigPolicy
from .openinference import OpenInferenceConfig, OpenInferenceSubscriber
from .otel import OpenTelemetryConfig, OpenTelemetrySubscriber

__all__ = [
    "AtifExporter",
    "AtofEndpointConfig",
    "AtofExporter",
    "AtofExporterConfig",
    "AtofExporterMode",
    "AtofConfig",
    "AtifConfig",
    "ComponentSpec",
    "ConfigPolicy",
    "HttpStorageConfig",
    "OBSERVABILITY_PLUGIN_KIND",
    "OpenInferenceConfig",
    "OpenInferenceSubscriber",
    "OpenTelemetryConfig",
    "OpenTelemetrySubscriber",
    "ObservabilityConfig",
    "OtlpConfig",
    "S3StorageConfig",
]
