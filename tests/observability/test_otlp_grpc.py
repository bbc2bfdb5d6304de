"""The gRPC transport: OpenInferenceSubscriber against a local OTLP/gRPC
receiver (grpcio with the official opentelemetry-proto service)."""

from __future__ import annotations

from concurrent import futures

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc", reason="needs the 'otel' extra")
grpc = pytest.importorskip("grpc")

import nemo_relay  # noqa: E402
from nemo_relay import ScopeType, scope, tools  # noqa: E402


def test_grpc_transport_exports_the_tree():
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    received: list = []
    metadata: list = []

    class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request, context):  # noqa: N802
            metadata.append(dict(context.invocation_metadata()))
            received.extend(s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Receiver(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        cfg = nemo_relay.OpenInferenceConfig()
        cfg.transport = "grpc"
        cfg.endpoint = f"http://127.0.0.1:{port}"
        cfg.set_header("x-tenant", "t1")
        sub = nemo_relay.OpenInferenceSubscriber(cfg)
        sub.register("grpc")
        try:
            with scope.scope("agent", ScopeType.Agent):
                tools.execute_sync("weather", {"city": "Paris"}, lambda a: 18)
        finally:
            sub.deregister("grpc")
        sub.shutdown()
    finally:
        server.stop(None)
    spans = {s.name: s for s in received}
    assert set(spans) == {"agent", "weather"}
    assert spans["weather"].parent_span_id == spans["agent"].span_id
    kinds = {kv.key: kv.value.string_value for kv in spans["weather"].attributes}
    assert kinds["openinference.span.kind"] == "TOOL"
    assert metadata[0]["x-tenant"] == "t1"
    assert sub.exported_spans == 2 and sub.failed_spans == 0
