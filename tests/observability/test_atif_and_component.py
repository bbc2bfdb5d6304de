"""AtifExporter trajectories and the ``observability`` plugin component."""

from __future__ import annotations

import json
import os

import pytest

import nemo_relay
from nemo_relay import LLMRequest, ScopeType, llm, plugin, scope, subscribers, tools
from nemo_relay.observability import (
    OBSERVABILITY_PLUGIN_KIND,
    AtifConfig,
    AtofConfig,
    ComponentSpec,
    HttpStorageConfig,
    ObservabilityConfig,
    OtlpConfig,
)
from nemo_relay.observability.atif import AtifExporter

from local_http import LocalHTTPServer

TOOLS = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]


def first_turn(req):
    return {"model": "gpt-4o-mini", "choices": [{"finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": "call_w", "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                      "prompt_tokens_details": {"cached_tokens": 2}}}


def second_turn(req):
    return {"model": "gpt-4o-mini", "choices": [{"finish_reason": "stop", "message": {
        "role": "assistant", "content": "18 degrees in Paris"}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 6, "cost_usd": 0.001}}


def run_agent(session="s-1"):
    with scope.scope("agent", ScopeType.Agent, metadata={"session_id": session}):
        msgs = [{"role": "user", "content": "weather in Paris?"}]
        llm.execute_sync("openai", LLMRequest({}, {"model": "gpt-4o-mini", "messages": msgs, "tools": TOOLS}),
                         first_turn)
        tools.execute_sync("weather", {"city": "Paris"}, lambda a: {"temperature_c": 18})
        llm.execute_sync("openai", LLMRequest({}, {"model": "gpt-4o-mini", "messages": msgs + [
            {"role": "tool", "tool_call_id": "call_w", "content": "18"}]}), second_turn)


def test_atif_trajectory():
    exp = AtifExporter("s-1", "demo", "1.0", extra={"team": "x"})
    exp.register("atif")
    try:
        run_agent()
        tools.execute_sync("unasked", {}, lambda a: "late")
    finally:
        assert exp.deregister("atif") is True
    t = exp.export()
    assert t["schema_version"] == "ATIF-v1.7" and t["session_id"] == "s-1"
    assert t["agent"] == {"name": "demo", "version": "1.0", "model_name": "gpt-4o-mini",
                          "tool_definitions": TOOLS, "extra": {"team": "x"}}
    steps = t["steps"]
    assert [(s["step_id"], s["source"]) for s in steps] == [
        (1, "user"), (2, "agent"), (3, "user"), (4, "agent"), (5, "system")]
    assert steps[0]["message"] == "weather in Paris?"
    assert steps[0]["extra"]["ancestry"]["function_name"] == "openai"
    assert steps[0]["extra"]["ancestry"]["parent_name"] == "agent"
    assert steps[1]["tool_calls"] == [{"tool_call_id": "call_w", "function_name": "weather",
                                       "arguments": {"city": "Paris"}}]
    assert steps[1]["observation"] == {"results": [{"source_call_id": "call_w",
                                                    "content": {"temperature_c": 18}}]}
    assert steps[1]["metrics"] == {"prompt_tokens": 10, "completion_tokens": 5, "cached_tokens": 2}
    assert steps[1]["model_name"] == "gpt-4o-mini" and steps[1]["llm_call_count"] == 1
    assert steps[3]["message"] == "18 degrees in Paris"
    assert steps[3]["metrics"] == {"prompt_tokens": 20, "completion_tokens": 6, "cost_usd": 0.001}
    assert steps[4]["observation"] == {"results": [{"content": "late"}]}
    assert t["final_metrics"] == {"total_prompt_tokens": 30, "total_completion_tokens": 11,
                                  "total_cached_tokens": 2, "total_cost_usd": 0.001, "total_steps": 5}
    assert json.loads(exp.export_json()) == t
    exp.clear()
    assert exp.export()["steps"] == []


def test_atif_bad_arguments():
    with pytest.raises(TypeError, match="session_id must be a str"):
        AtifExporter(1, "a", "1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tool_definitions must be a list of dicts"):
        AtifExporter("s", "a", "1", tool_definitions=["x"])  # type: ignore[list-item]
    assert nemo_relay.observability.AtifExporter is AtifExporter


@pytest.fixture
def builtin_kind():
    yield
    plugin.clear()
    plugin.deregister(OBSERVABILITY_PLUGIN_KIND)


def test_config_helpers_match_upstream_shapes():
    assert AtofConfig().to_dict() == {"enabled": False, "mode": "append"}
    assert AtifConfig().to_dict() == {"enabled": False, "agent_name": "NeMo Relay", "model_name": "unknown",
                                      "filename_template": "nemo-relay-atif-{session_id}.json"}
    assert OtlpConfig().to_dict() == {"enabled": False, "transport": "http_binary", "headers": {},
                                      "resource_attributes": {}, "service_name": "nemo-relay",
                                      "timeout_millis": 3000}
    wrapped = ComponentSpec(ObservabilityConfig(atof=AtofConfig())).to_dict()
    assert wrapped["kind"] == "observability" and wrapped["config"]["version"] == 1


def test_validation_diagnostics(builtin_kind):
    report = plugin.validate(plugin.PluginConfig(components=[ComponentSpec({
        "version": 1, "atof": {"mode": "bad", "colour": "red"},
        "atif": {"filename_template": "missing-placeholder", "storage": [{"type": "s3", "bucket": "b"}]},
        "openinference": {"transport": "smoke", "timeout_millis": 0}, "extra_section": {}})]))
    diags = {(d["level"], d["code"], d["field"]) for d in report["diagnostics"]}
    assert {("error", "observability.unsupported_value", "mode"),
            ("error", "observability.unsupported_value", "filename_template"),
            ("error", "observability.unsupported_value", "storage"),
            ("error", "observability.unsupported_value", "transport"),
            ("error", "observability.unsupported_value", "timeout_millis"),
            ("warning", "observability.unknown_field", "colour"),
            ("warning", "observability.unknown_field", "extra_section")} <= diags
    report = plugin.validate({"components": [{"kind": "observability", "config": {"version": 2}}]})
    assert [d["code"] for d in report["diagnostics"]] == ["observability.unsupported_config_version"]
    with pytest.raises(nemo_relay.errors.InvalidConfig, match="atof.mode must be 'append' or 'overwrite'"):
        plugin.clear()
        import asyncio
        asyncio.run(plugin.initialize({"components": [{"kind": "observability",
                                                       "config": {"atof": {"enabled": True, "mode": "x"}}}]}))
    assert plugin.report() is None


async def test_component_installs_and_clears_exporters(tmp_path, builtin_kind):
    otlp = LocalHTTPServer().start()
    try:
        config = ObservabilityConfig(
            atof=AtofConfig(enabled=True, output_directory=str(tmp_path), filename="events.jsonl"),
            atif=AtifConfig(enabled=True, agent_name="demo", output_directory=str(tmp_path / "atif")),
            openinference=OtlpConfig(enabled=True, endpoint=otlp.url + "/v1/traces"))
        report = await plugin.initialize(plugin.PluginConfig(components=[ComponentSpec(config)]))
        assert report["diagnostics"] == []
        assert OBSERVABILITY_PLUGIN_KIND in plugin.list_kinds()
        run_agent("run-7")
        plugin.clear()        # the exporters are removed and finish on their own threads
        subscribers.flush()   # ... which this waits for
        scope.event("after-clear")
    finally:
        otlp.stop()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert len(lines) == 8 and all(json.loads(line)["name"] != "after-clear" for line in lines)
    traj = json.loads((tmp_path / "atif" / "nemo-relay-atif-run-7.json").read_text())
    assert traj["session_id"] == "run-7" and traj["agent"]["name"] == "demo"
    assert [s["source"] for s in traj["steps"]] == ["user", "agent", "user", "agent"]
    from otlp_receiver import received_spans
    names = sorted(s.name for s in received_spans(otlp))
    assert names == ["agent", "openai", "openai", "weather"]
    assert not os.path.exists(tmp_path / "nemo-relay-atif-run-7.json")


async def test_atif_component_uploads_to_http_storage(tmp_path, builtin_kind, monkeypatch):
    store = LocalHTTPServer().start()
    monkeypatch.setenv("NR_TEST_ATIF_TOKEN", "secret-1")
    try:
        config = ObservabilityConfig(atif=AtifConfig(
            enabled=True, output_directory=str(tmp_path), filename_template="traj-{session_id}.json",
            storage=[HttpStorageConfig(endpoint=store.url + "/atif", headers={"x-team": "a"},
                                       header_env={"authorization": "NR_TEST_ATIF_TOKEN"})]))
        await plugin.initialize(plugin.PluginConfig(components=[ComponentSpec(config)]))
        run_agent("up-1")
        plugin.clear()
        subscribers.flush()
    finally:
        store.stop()
    [req] = store.requests
    assert req.path == "/atif" and req.headers["x-team"] == "a" and req.headers["authorization"] == "secret-1"
    uploaded = json.loads(req.body)
    assert uploaded == json.loads((tmp_path / "traj-up-1.json").read_text())
    assert uploaded["session_id"] == "up-1" and len(uploaded["steps"]) == 4


def test_missing_otel_extra_is_a_diagnostic(builtin_kind, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    report = plugin.validate({"components": [{"kind": "observability",
                                              "config": {"opentelemetry": {"enabled": True}}}]})
    [d] = report["diagnostics"]
    assert (d["level"], d["code"], d["field"]) == ("error", "observability.feature_disabled", "enabled")
    assert "pip install 'nemo-relay[otel]'" in d["message"]
