"""Decodes what an OTLP/HTTP exporter posted to a LocalHTTPServer, with the
official OpenTelemetry protobuf definitions (opentelemetry-proto)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from local_http import LocalHTTPServer


@dataclass
class Span:
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status_code: str
    status_message: str
    events: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    scope: str = ""


def _value(v: Any) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, which) if which else None


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


def decode(body: bytes) -> list[Span]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan, Status

    req = ExportTraceServiceRequest()
    req.ParseFromString(body)
    out = []
    for rs in req.resource_spans:
        resource = _attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(Span(
                    name=s.name, kind=PbSpan.SpanKind.Name(s.kind), trace_id=s.trace_id.hex(),
                    span_id=s.span_id.hex(), parent_span_id=s.parent_span_id.hex(),
                    start_ns=s.start_time_unix_nano, end_ns=s.end_time_unix_nano,
                    attributes=_attrs(s.attributes), status_code=Status.StatusCode.Name(s.status.code),
                    status_message=s.status.message,
                    events=[(e.name, e.time_unix_nano, _attrs(e.attributes)) for e in s.events],
                    resource=resource, scope=ss.scope.name))
    return out


def received_spans(server: LocalHTTPServer) -> list[Span]:
    return [s for r in list(server.requests) for s in decode(r.body)]
