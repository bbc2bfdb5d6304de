"""OpenTelemetrySubscriber and OpenInferenceSubscriber against a real OTLP/HTTP
receiver on 127.0.0.1 (decoded with opentelemetry-proto): the span tree,
names, kinds, attributes, timestamps, status and events, and an agent that
never waits for a backend that refuses, stalls or fails."""

from __future__ import annotations

import threading
import warnings

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs the 'otel' extra")

import nemo_relay  # noqa: E402
from nemo_relay import LLMRequest, ScopeType, llm, scope, subscribers, tools  # noqa: E402
from nemo_relay.observability._spans import timestamp_ns  # noqa: E402

from conftest import Recorder  # noqa: E402
from local_http import LocalHTTPServer  # noqa: E402
from otlp_receiver import Span, received_spans  # noqa: E402

REQUEST = {
    "model": "gpt-4o",
    "temperature": 0.2,
    "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "weather in Paris?"}],
    "tools": [{"type": "function", "function": {"name": "weather", "description": "forecast",
                                                  "parameters": {"type": "object"}}}],
}
RESPONSE = {
    "model": "gpt-4o-2024-08-06",
    "choices": [{"finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
}


@pytest.fixture
def otlp():
    server = LocalHTTPServer().start()
    yield server
    server.stop()


def config(cls, server, **kw):
    cfg = cls()
    cfg.endpoint = server.url + "/v1/traces"
    cfg.service_name = "relay-tests"
    cfg.timeout_millis = kw.pop("timeout_millis", 3000)
    cfg.set_header("x-api-key", "k1")
    cfg.set_resource_attribute("deployment.environment", "test")
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


def run_agent() -> Recorder:
    rec = Recorder()
    subscribers.register("recorder", rec)
    try:
        with scope.scope("agent", ScopeType.Agent, metadata={"session": "s1"}):
            llm.execute_sync("openai", LLMRequest({}, REQUEST), lambda r: RESPONSE)
            tools.execute_sync("weather", {"city": "Paris"}, lambda a: {"t": 18})
            scope.event("checkpoint", data={"step": 1})
            with pytest.raises(ValueError):
                tools.execute_sync("broken", {}, lambda a: (_ for _ in ()).throw(ValueError("boom")))
    finally:
        subscribers.deregister("recorder")
    return rec


def by_name(spans: list[Span]) -> dict[str, Span]:
    out = {s.name: s for s in spans}
    assert len(out) == len(spans), [s.name for s in spans]
    return out


def export_with(cls_cfg, cls_sub, server, **kw):
    sub = cls_sub(config(cls_cfg, server, **kw))
    sub.register("otlp")
    try:
        rec = run_agent()
    finally:
        assert sub.deregister("otlp") is True
    sub.force_flush()
    sub.shutdown()
    return sub, rec, by_name(received_spans(server))


def assert_tree_and_times(spans: dict[str, Span], rec: Recorder) -> None:
    agent = spans["agent"]
    assert agent.parent_span_id == ""
    for child in ("openai", "weather", "broken"):
        assert spans[child].parent_span_id == agent.span_id
        assert spans[child].trace_id == agent.trace_id
    for name in ("agent", "openai", "weather", "broken"):
        assert spans[name].start_ns == timestamp_ns(rec.one(name, "start").timestamp)
        assert spans[name].end_ns == timestamp_ns(rec.one(name, "end").timestamp)
    assert agent.status_code == "STATUS_CODE_OK"
    assert spans["broken"].status_code == "STATUS_CODE_ERROR"
    mark = rec.one("checkpoint")
    assert agent.events == [("checkpoint", timestamp_ns(mark.timestamp), {
        "nemo_relay.mark.uuid": mark.uuid, "nemo_relay.mark.parent_uuid": rec.one("agent", "start").uuid,
        "nemo_relay.mark.data_json": '{"step":1}'})]
    assert agent.resource["service.name"] == "relay-tests"
    assert agent.resource["deployment.environment"] == "test"
    assert agent.scope == "nemo-relay"


def test_opentelemetry_spans(otlp):
    sub, rec, spans = export_with(nemo_relay.OpenTelemetryConfig, nemo_relay.OpenTelemetrySubscriber, otlp)
    assert set(spans) == {"agent", "openai", "weather", "broken"}
    assert_tree_and_times(spans, rec)
    assert otlp.requests[0].headers["x-api-key"] == "k1"
    assert otlp.requests[0].headers["content-type"] == "application/x-protobuf"
    assert (spans["agent"].kind, spans["openai"].kind, spans["weather"].kind) == (
        "SPAN_KIND_INTERNAL", "SPAN_KIND_CLIENT", "SPAN_KIND_CLIENT")
    a = spans["openai"].attributes
    assert {k: a[k] for k in a if k.startswith("gen_ai.")} == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o", "gen_ai.request.temperature": 0.2,
        "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.response.finish_reasons": ["tool_use"],
        "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 7}
    assert a["nemo_relay.scope_type"] == "llm" and a["nemo_relay.model_name"] == "gpt-4o"
    assert a["nemo_relay.uuid"] == rec.one("openai", "start").uuid
    t = spans["weather"].attributes
    assert (t["gen_ai.operation.name"], t["gen_ai.tool.name"]) == ("execute_tool", "weather")
    assert t["nemo_relay.start.data_json"] == '{"city":"Paris"}' and t["nemo_relay.end.data_json"] == '{"t":18}'
    assert spans["agent"].attributes["gen_ai.agent.name"] == "agent"
    assert spans["agent"].attributes["nemo_relay.start.metadata_json"] == '{"session":"s1"}'
    assert sub.exported_spans == 4 and sub.failed_spans == 0 and sub.dropped_events == 0


def test_openinference_spans(otlp):
    sub, rec, spans = export_with(nemo_relay.OpenInferenceConfig, nemo_relay.OpenInferenceSubscriber, otlp)
    assert_tree_and_times(spans, rec)
    kinds = {n: s.attributes["openinference.span.kind"] for n, s in spans.items()}
    assert kinds == {"agent": "AGENT", "openai": "LLM", "weather": "TOOL", "broken": "TOOL"}
    a = spans["openai"].attributes
    assert a["llm.model_name"] == "gpt-4o"
    assert (a["llm.token_count.prompt"], a["llm.token_count.completion"], a["llm.token_count.total"]) == (12, 7, 19)
    assert a["llm.input_messages.0.message.role"] == "system"
    assert a["llm.input_messages.1.message.content"] == "weather in Paris?"
    assert a["llm.system"] == "be brief"
    assert a["input.value"] == "weather in Paris?" and a["input.mime_type"] == "text/plain"
    assert a["llm.invocation_parameters"] == '{"temperature":0.2}'
    assert a["llm.tools.0.tool.json_schema"] == (
        '{"type":"function","function":{"name":"weather","description":"forecast","parameters":{"type":"object"}}}')
    assert a["llm.output_messages.0.message.role"] == "assistant"
    assert a["llm.output_messages.0.message.tool_calls.0.tool_call.function.name"] == "weather"
    assert a["llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments"] == '{"city":"Paris"}'
    assert a["llm.output_messages.0.message.tool_calls.0.tool_call.id"] == "call_1"
    assert a["llm.finish_reason"] == "tool_use"
    t = spans["weather"].attributes
    assert (t["tool.name"], t["input.value"], t["input.mime_type"]) == ("weather", '{"city":"Paris"}', "application/json")
    assert (t["output.value"], t["tool.parameters"]) == ('{"t":18}', '{"city":"Paris"}')
    assert spans["agent"].attributes["metadata"] == '{"session":"s1","otel.status_code":"OK"}'


def test_orphan_mark_becomes_its_own_span(otlp):
    sub = nemo_relay.OpenInferenceSubscriber(config(nemo_relay.OpenInferenceConfig, otlp))
    sub.register("otlp")
    try:
        scope.event("lonely", data={"x": 1})
    finally:
        sub.deregister("otlp")
    sub.shutdown()
    [span] = received_spans(otlp)
    assert span.name == "mark:lonely" and span.start_ns == span.end_ns
    assert span.attributes["nemo_relay.mark.orphan"] is True
    assert span.attributes["openinference.span.kind"] == "CHAIN"


def test_backend_refuses_stalls_then_recovers(otlp):
    cfg = config(nemo_relay.OpenTelemetryConfig, otlp, timeout_millis=500)
    sub = nemo_relay.OpenTelemetrySubscriber(cfg, queue_capacity=4)
    sub.register("otlp")
    try:
        # 1. refused: the export fails, the agent does not notice
        otlp.stop()
        with scope.scope("refused", ScopeType.Agent):
            pass
        with pytest.warns(RuntimeWarning, match="could not export 1 spans to http://127.0.0.1"):
            sub.force_flush()
        assert sub.failed_spans == 1

        # 2. stalled past the timeout: the drain thread waits, the queue fills, events drop
        otlp.stall = threading.Event()
        otlp.start()
        with scope.scope("stalled", ScopeType.Agent):
            pass
        assert otlp.wait_for(lambda: otlp.arrivals >= 1)   # the exporter is stuck in its request
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(10):                              # 4 fit the queue, 6 are dropped
                scope.event(f"burst-{i}")
            assert sub.dropped_events == 6
            sub.force_flush()                                # the stalled request times out
        messages = [str(w.message) for w in caught]
        assert any("could not export 1 spans" in m for m in messages), messages
        assert [m for m in messages if "dropped" in m] == [
            "nemo_relay: OpenTelemetry exporter dropped 6 events: its queue (capacity 4) was full"]

        # 3. recovered: export resumes
        otlp.stall.set()
        otlp.stall = None
        with scope.scope("recovered", ScopeType.Agent):
            pass
        sub.force_flush()
    finally:
        sub.deregister("otlp")
        if otlp.stall is not None:
            otlp.stall.set()
    sub.shutdown()
    names = [s.name for s in received_spans(otlp)]
    assert "recovered" in names and "refused" not in names
    assert {f"mark:burst-{i}" for i in range(4)} <= set(names)
    assert not {f"mark:burst-{i}" for i in range(4, 10)} & set(names)


def test_joins_the_application_trace(otlp):
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    app_provider = TracerProvider()
    app_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=otlp.url + "/v1/traces")))
    previous = trace._TRACER_PROVIDER
    trace._TRACER_PROVIDER = app_provider  # the application's global provider, restored below
    try:
        cfg = nemo_relay.OpenTelemetryConfig()
        cfg.join_application_trace = True
        sub = nemo_relay.OpenTelemetrySubscriber(cfg)
        sub.register("otlp")
        try:
            tracer = app_provider.get_tracer("web")
            with tracer.start_as_current_span("GET /ask", kind=trace.SpanKind.SERVER):
                with scope.scope("agent", ScopeType.Agent):
                    tools.execute_sync("weather", {"city": "Paris"}, lambda a: 1)
            with scope.scope("outside", ScopeType.Agent):
                pass
        finally:
            sub.deregister("otlp")
        sub.shutdown()
        app_provider.shutdown()
    finally:
        trace._TRACER_PROVIDER = previous
    spans = by_name(received_spans(otlp))
    request = spans["GET /ask"]
    assert spans["agent"].trace_id == request.trace_id
    assert spans["agent"].parent_span_id == request.span_id
    assert spans["weather"].parent_span_id == spans["agent"].span_id
    assert spans["outside"].parent_span_id == "" and spans["outside"].trace_id != request.trace_id


def test_bad_configs():
    cfg = nemo_relay.OpenTelemetryConfig()
    cfg.transport = "carrier-pigeon"
    with pytest.raises(ValueError, match="unsupported OTLP transport 'carrier-pigeon'"):
        nemo_relay.OpenTelemetrySubscriber(cfg)
    cfg = nemo_relay.OpenInferenceConfig()
    cfg.timeout_millis = 0
    with pytest.raises(ValueError, match="timeout_millis must be a positive integer"):
        nemo_relay.OpenInferenceSubscriber(cfg)
    cfg.timeout_millis = 10
    cfg.endpoint = "localhost"
    with pytest.raises(ValueError, match="OTLP endpoint must be a URL"):
        nemo_relay.OpenInferenceSubscriber(cfg)
    with pytest.raises(TypeError, match="headers must be a dict of str to str"):
        cfg.headers = {"a": 1}  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="expects its config object"):
        nemo_relay.OpenTelemetrySubscriber({})  # type: ignore[arg-type]


def test_config_defaults():
    cfg = nemo_relay.OpenTelemetryConfig()
    assert (cfg.transport, cfg.endpoint, cfg.service_name, cfg.timeout_millis, cfg.headers,
            cfg.resource_attributes, cfg.join_application_trace) == (
        "http_binary", None, "nemo-relay", 3000, {}, {}, False)
    cfg.headers = {"a": "b"}
    h = cfg.headers
    h["c"] = "d"
    assert cfg.headers == {"a": "b"}  # a copy


def test_missing_extra_names_it(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(ImportError, match=r"pip install 'nemo-relay\[otel\]'"):
        nemo_relay.OpenTelemetrySubscriber(nemo_relay.OpenTelemetryConfig())


def test_core_package_does_not_import_opentelemetry(tmp_path):
    import subprocess
    import sys
    code = "import sys, nemo_relay, nemo_relay.observability; print(any(m.startswith('opentelemetry') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    assert out.stdout.strip() == "False"


class HouseCodec:
    """A user codec for an in-house payload shape the raw readers do not know."""

    def decode(self, request):
        c = request.content
        return nemo_relay.AnnotatedLLMRequest(
            messages=[{"role": "user", "content": c["ask"]}], model=c["engine"],
            params={"temperature": 0.5}, tools=[{"type": "function", "function": {"name": "lookup"}}])

    def encode(self, annotated, original):
        return original

    def decode_response(self, response):
        return nemo_relay.AnnotatedLLMResponse(
            model=response["engine"], message=response["say"], finish_reason="complete",
            tool_calls=[{"id": "h1", "name": "lookup", "arguments": {"q": "x"}}],
            usage={"prompt_tokens": response["in"], "completion_tokens": response["out"], "total_tokens": 99,
                   "cost": {"total": 0.25, "currency": "USD"}})


def test_annotations_from_codecs_are_used(otlp):
    codec = HouseCodec()
    oi = nemo_relay.OpenInferenceSubscriber(config(nemo_relay.OpenInferenceConfig, otlp))
    ot = nemo_relay.OpenTelemetrySubscriber(config(nemo_relay.OpenTelemetryConfig, otlp))
    oi.register("oi")
    ot.register("ot")
    try:
        llm.execute_sync("house", LLMRequest({}, {"engine": "house-7", "ask": "hello?"}),
                         lambda r: {"engine": "house-7b", "say": "hi!", "in": 11, "out": 3},
                         codec=codec, response_codec=codec)
    finally:
        oi.deregister("oi")
        ot.deregister("ot")
    oi.shutdown()
    ot.shutdown()
    spans = received_spans(otlp)
    a = next(s for s in spans if "openinference.span.kind" in s.attributes).attributes
    assert (a["llm.model_name"], a["llm.input_messages.0.message.content"], a["input.value"]) == (
        "house-7", "hello?", "hello?")
    assert (a["llm.token_count.prompt"], a["llm.token_count.completion"], a["llm.token_count.total"]) == (11, 3, 99)
    assert (a["llm.cost.total"], a["llm.finish_reason"], a["output.value"]) == (0.25, "complete", "hi!")
    assert a["llm.invocation_parameters"] == '{"temperature":0.5}'
    assert a["llm.tools.0.tool.json_schema"] == '{"type":"function","function":{"name":"lookup"}}'
    assert a["llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments"] == '{"q":"x"}'
    g = next(s for s in spans if "gen_ai.operation.name" in s.attributes).attributes
    assert (g["gen_ai.request.model"], g["gen_ai.response.model"], g["gen_ai.request.temperature"]) == (
        "house-7", "house-7b", 0.5)
    assert (g["gen_ai.usage.input_tokens"], g["gen_ai.usage.output_tokens"]) == (11, 3)
    assert (g["nemo_relay.llm.cost.total"], g["nemo_relay.llm.cost.currency"]) == (0.25, "USD")
