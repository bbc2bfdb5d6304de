"""Events to OpenTelemetry spans, exported over OTLP from the drain thread.

Shared by ``OpenTelemetrySubscriber`` and ``OpenInferenceSubscriber``, which
differ only in the attributes they put on a span (a ``Mapping``).  Every scope
becomes one span: started at its start event's timestamp, ended at its end
event's, parented to the span of ``parent_uuid``, its status taken from
``otel.status_code`` / ``otel.status_description`` in the end metadata.  A
mark becomes an event on its parent's span, or a zero-length ``mark:<name>``
span when the parent is unknown.

Spans are built with the OpenTelemetry SDK on the drain thread and handed to
the SDK's OTLP exporter in one call per drained batch, so the exporter's
bounded queue is the only buffer: a slow or failing backend shows as drops
counted there and as failed exports, never as a wait in the agent.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from ._drain import Drain

if TYPE_CHECKING:
    from opentelemetry.trace import SpanContext, SpanKind

EXTRA = "otel"
TRANSPORTS = ("http_binary", "grpc")
# completed spans remembered so a late child (or a mark) still finds its parent
COMPLETED_LIMIT = 4096
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICRO = timedelta(microseconds=1)


def require_otel(what: str) -> None:
    """Raises ImportError naming the extra when the OpenTelemetry SDK is missing."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{what} needs the OpenTelemetry SDK and OTLP exporter: "
            f"pip install 'nemo-relay[{EXTRA}]' ({exc})") from exc


def timestamp_ns(ts: str) -> int:
    """RFC 3339 text (microseconds) as integer nanoseconds since the epoch, exactly."""
    dt = datetime.fromisoformat(ts)
    return ((dt - _EPOCH) // _MICRO) * 1000


class OtlpSettings:
    """Settings shared by ``OpenTelemetryConfig`` and ``OpenInferenceConfig``.

    ``transport`` is ``"http_binary"`` (OTLP/HTTP protobuf) or ``"grpc"``;
    ``endpoint`` is the full URL (for HTTP, with ``/v1/traces``), default the
    SDK's (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or localhost).
    ``join_application_trace`` (a nemo_relay extension): send the spans
    through the application's global ``TracerProvider`` and parent an agent's
    top-level spans under the application's span that was current where the
    scope started."""

    def __init__(self) -> None:
        self.transport: str = "http_binary"
        self.endpoint: str | None = None
        self.service_name: str = "nemo-relay"
        self.service_namespace: str | None = None
        self.service_version: str | None = None
        self.instrumentation_scope: str = "nemo-relay"
        self.timeout_millis: int = 3000
        self.join_application_trace: bool = False
        self._headers: dict[str, str] = {}
        self._resource_attributes: dict[str, str] = {}

    @property
    def headers(self) -> dict[str, str]:
        """Extra exporter headers (a copy)."""
        return dict(self._headers)

    @headers.setter
    def headers(self, value: dict[str, str]) -> None:
        self._headers = _str_dict(value, "headers")

    @property
    def resource_attributes(self) -> dict[str, str]:
        """Extra resource attributes (a copy)."""
        return dict(self._resource_attributes)

    @resource_attributes.setter
    def resource_attributes(self, value: dict[str, str]) -> None:
        self._resource_attributes = _str_dict(value, "resource_attributes")

    def set_header(self, key: str, value: str) -> None:
        self._headers.update(_str_dict({key: value}, "headers"))

    def set_resource_attribute(self, key: str, value: str) -> None:
        self._resource_attributes.update(_str_dict({key: value}, "resource_attributes"))

    def check(self) -> None:
        """Raises ValueError for a setting no exporter can use."""
        if self.transport not in TRANSPORTS:
            raise ValueError(f"unsupported OTLP transport {self.transport!r} (expected "
                             f"{' or '.join(TRANSPORTS)})")
        if isinstance(self.timeout_millis, bool) or not isinstance(self.timeout_millis, int) \
                or self.timeout_millis <= 0:
            raise ValueError("timeout_millis must be a positive integer")
        if self.endpoint is not None and (not isinstance(self.endpoint, str)
                                          or "://" not in self.endpoint):
            raise ValueError(f"OTLP endpoint must be a URL, not {self.endpoint!r}")
        if not isinstance(self.service_name, str) or not self.service_name:
            raise ValueError("service_name must be a non-empty string")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(transport={self.transport!r}, endpoint={self.endpoint!r}, "
                f"service_name={self.service_name!r})")


def _str_dict(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise TypeError(f"{what} must be a dict of str to str")
    return dict(value)


class Mapping(Protocol):
    """What a span carries; each method takes the event's ``to_dict()``."""

    def span_kind(self, ev: dict[str, Any]) -> SpanKind: ...
    def start_attributes(self, ev: dict[str, Any]) -> dict[str, Any]: ...
    def end_attributes(self, ev: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]: ...
    def mark_attributes(self, ev: dict[str, Any]) -> dict[str, Any]: ...
    def orphan_mark_attributes(self, ev: dict[str, Any]) -> dict[str, Any]: ...


class _ContextCapture:
    """join_application_trace: remembers the application's current span for
    each scope start (a Python subscriber, so this option costs a callback
    per event on the emitting thread)."""

    def __init__(self) -> None:
        from opentelemetry import trace

        self._current = trace.get_current_span
        self._lock = threading.Lock()
        self._by_uuid: OrderedDict[str, SpanContext] = OrderedDict()

    def __call__(self, event: Any) -> None:
        if event.kind != "scope" or event.scope_category != "start":
            return
        sc = self._current().get_span_context()
        if sc.is_valid:
            with self._lock:
                self._by_uuid[event.uuid] = sc
                if len(self._by_uuid) > COMPLETED_LIMIT:
                    self._by_uuid.popitem(last=False)

    def take(self, uuid: str) -> SpanContext | None:
        with self._lock:
            return self._by_uuid.pop(uuid, None)


class SpanTree:
    """Open spans by scope uuid; runs on the drain thread only."""

    def __init__(self, tracer: Any, mapping: Mapping, capture: _ContextCapture | None) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode

        self._trace, self._NonRecordingSpan = trace, NonRecordingSpan
        self._Status, self._StatusCode, self._Internal = Status, StatusCode, SpanKind.INTERNAL
        self._tracer = tracer
        self._mapping = mapping
        self._capture = capture
        self._open: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._done: OrderedDict[str, SpanContext] = OrderedDict()

    def handle(self, ev: dict[str, Any]) -> None:
        if ev.get("kind") == "mark":
            self._mark(ev)
        elif ev.get("scope_category") == "start":
            self._start(ev)
        else:
            self._end(ev)

    def _parent(self, ev: dict[str, Any]) -> Any:
        parent = ev.get("parent_uuid")
        captured = self._capture.take(ev["uuid"]) if self._capture is not None else None
        open_parent = self._open.get(parent) if parent else None
        sc = open_parent[0].get_span_context() if open_parent else self._done.get(parent or "")
        if sc is None:
            sc = captured  # a top-level scope joins the application's trace
        if sc is None:
            return None
        return self._trace.set_span_in_context(self._NonRecordingSpan(sc))

    def _start(self, ev: dict[str, Any]) -> None:
        span = self._tracer.start_span(
            ev["name"], context=self._parent(ev), kind=self._mapping.span_kind(ev),
            attributes=self._mapping.start_attributes(ev), start_time=timestamp_ns(ev["timestamp"]))
        self._open[ev["uuid"]] = (span, ev)

    def _end(self, ev: dict[str, Any]) -> None:
        entry = self._open.pop(ev["uuid"], None)
        if entry is None:
            return
        span, start = entry
        self._done[ev["uuid"]] = span.get_span_context()
        if len(self._done) > COMPLETED_LIMIT:
            self._done.popitem(last=False)
        span.set_attributes(self._mapping.end_attributes(ev, start))
        meta = ev.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
        code = meta.get("otel.status_code")
        if code == "OK":
            span.set_status(self._Status(self._StatusCode.OK))
        elif code == "ERROR":
            desc = meta.get("otel.status_description")
            span.set_status(self._Status(self._StatusCode.ERROR,
                                         desc if isinstance(desc, str) else None))
        span.end(end_time=timestamp_ns(ev["timestamp"]))

    def _mark(self, ev: dict[str, Any]) -> None:
        ts = timestamp_ns(ev["timestamp"])
        entry = self._open.get(ev.get("parent_uuid") or "")
        if entry is not None:
            entry[0].add_event(ev["name"], attributes=self._mapping.mark_attributes(ev), timestamp=ts)
            return
        span = self._tracer.start_span(
            f"mark:{ev['name']}", context=self._parent(ev), kind=self._Internal,
            attributes=self._mapping.orphan_mark_attributes(ev), start_time=ts)
        span.end(end_time=ts)

    def open_count(self) -> int:
        return len(self._open)


class SpanSubscriber:
    """The machinery behind both subscribers: queue, drain thread, span tree,
    SDK provider and OTLP exporter."""

    def __init__(self, config: OtlpSettings, mapping: Mapping, what: str,
                 *, queue_capacity: int = 4096, _config_owned: bool = False) -> None:
        require_otel(what)
        if not isinstance(config, OtlpSettings):
            raise TypeError(f"{what} expects its config object, not {type(config).__name__}")
        config.check()
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider

        self._what = what
        self._endpoint = config.endpoint
        self._lock = threading.Lock()
        self.exported_spans = 0
        self.failed_spans = 0
        self._capture = _ContextCapture() if config.join_application_trace else None
        self._capture_names: dict[str, str] = {}
        self._exporter: Any = None
        self._provider: Any
        self._pending: list[ReadableSpan] = []
        pending = self._pending

        class Collect(SpanProcessor):
            """Keeps ended spans for the drain thread to export in one call."""

            def on_end(self, span: ReadableSpan) -> None:
                pending.append(span)

        if config.join_application_trace:
            self._provider = trace.get_tracer_provider()
        else:
            resource = {"service.name": config.service_name, **config.resource_attributes}
            if config.service_namespace:
                resource["service.namespace"] = config.service_namespace
            if config.service_version:
                resource["service.version"] = config.service_version
            # no per-span attribute cap: an LLM span carries one attribute per message part
            limits = SpanLimits(max_span_attributes=100_000, max_event_attributes=100_000,
                                max_events=100_000)
            self._provider = TracerProvider(resource=Resource.create(resource),
                                            span_limits=limits, shutdown_on_exit=False)
            self._provider.add_span_processor(Collect())
            self._exporter = _make_exporter(config)
        tracer = self._provider.get_tracer(config.instrumentation_scope)
        self._tree = SpanTree(tracer, mapping, self._capture)
        self._drain = Drain(what, self._export_batch, capacity=queue_capacity,
                            on_close=self._finish if _config_owned else None,
                            close_when_unregistered=_config_owned)

    def _export_batch(self, events: Sequence[Any]) -> None:
        for ev in events:
            self._tree.handle(ev.to_dict())
        if self._exporter is None or not self._pending:
            return
        spans = list(self._pending)
        self._pending.clear()
        from opentelemetry.sdk.trace.export import SpanExportResult

        try:
            ok = self._exporter.export(spans) == SpanExportResult.SUCCESS
        except Exception:  # the SDK reports its own errors; count them here
            ok = False
        with self._lock:
            if ok:
                self.exported_spans += len(spans)
            else:
                self.failed_spans += len(spans)
        if not ok:
            warnings.warn(f"nemo_relay: {self._what} could not export {len(spans)} spans to "
                          f"{self._endpoint or 'the default OTLP endpoint'}", RuntimeWarning,
                          stacklevel=1)

    @property
    def dropped_events(self) -> int:
        """Events dropped because the queue was full."""
        return self._drain.dropped

    def register(self, name: str) -> None:
        """Receive every event as the global subscriber ``name``."""
        if self._capture is not None:
            from .. import subscribers

            # before the queue, so the context is recorded when the drain reads it
            capture_name = f"{name}.application-context"
            subscribers.register(capture_name, self._capture)
            self._capture_names[name] = capture_name
            try:
                self._drain.register(name)
            except BaseException:
                subscribers.deregister(capture_name)
                del self._capture_names[name]
                raise
        else:
            self._drain.register(name)

    def deregister(self, name: str) -> bool:
        """Stop receiving events as ``name``; whether it was registered."""
        found = self._drain.deregister(name)
        capture_name = self._capture_names.pop(name, None)
        if capture_name is not None:
            from .. import subscribers

            subscribers.deregister(capture_name)
        return found

    def force_flush(self) -> None:
        """Wait until every queued event was exported (or failed to)."""
        self._drain.flush()
        if self._exporter is None and hasattr(self._provider, "force_flush"):
            self._provider.force_flush()

    def shutdown(self) -> None:
        """Deregister, export what is queued, and release the exporter."""
        for name in list(self._capture_names):
            self.deregister(name)
        self._drain.close()
        self._finish()

    def _finish(self) -> None:
        if self._exporter is not None:
            self._exporter.shutdown()
            self._provider.shutdown()
            self._exporter = None
        elif hasattr(self._provider, "force_flush"):
            self._provider.force_flush()


def _make_exporter(config: OtlpSettings) -> Any:
    timeout = config.timeout_millis / 1000
    if config.transport == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise ImportError("the grpc OTLP transport needs opentelemetry-exporter-otlp-proto-grpc:"
                              f" pip install 'nemo-relay[{EXTRA}]' ({exc})") from exc
        insecure = config.endpoint is not None and config.endpoint.startswith("http://")
        return OTLPSpanExporter(endpoint=config.endpoint, insecure=insecure,
                                headers=tuple((k.lower(), v) for k, v in config.headers.items()) or None,
                                timeout=timeout)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

    return Http(endpoint=config.endpoint, headers=config.headers or None, timeout=timeout)
