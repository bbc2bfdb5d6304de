"""The demo's --otlp-endpoint flag exports the run's spans (local receiver)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs the 'otel' extra")

from local_http import LocalHTTPServer  # noqa: E402
from otlp_receiver import received_spans  # noqa: E402


@pytest.mark.parametrize("fmt, key", [("openinference", "openinference.span.kind"),
                                      ("opentelemetry", "gen_ai.operation.name")])
def test_demo_exports_spans(tmp_path, fmt, key):
    server = LocalHTTPServer().start()
    try:
        out = subprocess.run([sys.executable, "-m", "nemo_relay", "demo", "--output", str(tmp_path / "d.jsonl"),
                              "--otlp-endpoint", server.url + "/v1/traces", "--otlp-format", fmt],
                             cwd=tmp_path, capture_output=True, text=True, timeout=120)
    finally:
        server.stop()
    assert out.returncode == 0, out.stderr
    assert f"exported 6 {fmt} spans to {server.url}/v1/traces" in out.stdout
    spans = {s.name: s for s in received_spans(server)}
    assert set(spans) == {"weather-agent", "fake-llm", "get_weather", "block-destructive"}
    assert all(key in s.attributes for s in spans.values() if s.name != "block-destructive" or fmt == "openinference")
    llm = spans["fake-llm"].attributes
    if fmt == "openinference":
        assert llm["llm.model_name"] == "fake-1" and llm["llm.token_count.completion"] in (9, 24)
    else:
        assert llm["gen_ai.request.model"] == "fake-1" and llm["gen_ai.usage.output_tokens"] in (9, 24)
    assert spans["get_weather"].parent_span_id == spans["weather-agent"].span_id
