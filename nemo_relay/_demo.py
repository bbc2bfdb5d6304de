"""``python -m nemo_relay demo``: a small simulated agent.

A fake LLM asks for two tool calls; a guardrail rejects one of them.  The
bundled ``redact`` plugin keeps secrets out of the recorded events and the
bundled ``atof_file`` plugin writes every event to a JSONL file.  The event
tree is printed indented by parentage.  With ``--otlp-endpoint`` the run is
also exported as spans (OpenInference by default, or OpenTelemetry GenAI)
to an OTLP/HTTP endpoint such as Arize Phoenix's ``/v1/traces``.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from . import LLMRequest, ScopeType, errors, guardrails, llm, plugin, scope, subscribers, tools
from .plugins import manifest


def fake_llm(request: LLMRequest) -> dict[str, Any]:
    """Plans two tool calls, then answers once it has tool results."""
    messages = request.content["messages"]
    prompt = sum(len(str(m.get("content", ""))) // 4 + 4 for m in messages)  # a rough token count
    if messages[-1]["role"] == "tool":
        return {"role": "assistant", "content": "It is 18°C and sunny in Paris.", "model": "fake-1",
                "usage": {"prompt_tokens": prompt, "completion_tokens": 9, "total_tokens": prompt + 9}}
    return {"role": "assistant", "model": "fake-1", "tool_calls": [
        {"name": "get_weather", "args": {"city": "Paris", "api_key": "wx-live-0123456789"}},
        {"name": "delete_files", "args": {"path": "/"}},
    ], "usage": {"prompt_tokens": prompt, "completion_tokens": 24, "total_tokens": prompt + 24}}


async def get_weather(args: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(0)  # pretend to call a weather service
    return {"city": args["city"], "temperature_c": 18, "sky": "sunny"}


def delete_files(args: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError("the guardrail must stop this tool from running")


TOOLS = {"get_weather": get_weather, "delete_files": delete_files}


def block_destructive(tool_name: str, args: Any) -> str | None:
    return "destructive tools need a human" if tool_name.startswith("delete") else None


async def run_agent() -> None:
    with scope.scope("weather-agent", ScopeType.Agent, input={"question": "What's the weather in Paris?"}):
        headers = {"authorization": "Bearer sk-demo-secret"}
        messages: list[dict[str, Any]] = [{"role": "user", "content": "What's the weather in Paris?"}]
        plan = await llm.execute("fake-llm", LLMRequest(headers, {"messages": messages}), fake_llm,
                                 model_name="fake-1")
        for call in plan["tool_calls"]:
            try:
                result = await tools.execute(call["name"], call["args"], TOOLS[call["name"]])
                messages.append({"role": "tool", "name": call["name"], "content": result})
            except errors.GuardrailRejected as rejected:
                messages.append({"role": "tool", "name": call["name"], "content": f"rejected: {rejected.reason}"})
        answer = await llm.execute("fake-llm", LLMRequest(headers, {"messages": messages}), fake_llm,
                                   model_name="fake-1")
        scope.event("answer", data=answer["content"])


def print_tree(events: list[Any]) -> None:
    """Scopes and marks indented under their parents, in emission order."""
    depth: dict[str, int] = {}
    for e in events:
        parent = depth.get(e.parent_uuid or "", -1)
        if e.kind == "scope" and e.scope_category == "end":
            if e.category == "guardrail":
                status = "allowed" if e.data.get("allowed") else f"rejected: {e.data.get('rejection_reason')}"
            else:
                status = (e.metadata or {}).get("otel.status_code", "")
            print(f"{'  ' * (parent + 1)}└ end {e.name} {status}".rstrip())
            continue
        level = parent + 1
        label = e.category if e.kind == "scope" else "mark"
        data = json.dumps(e.data, ensure_ascii=False)
        if len(data) > 90:
            data = data[:87] + "..."
        print(f"{'  ' * level}{e.name} [{label}] {data}")
        if e.kind == "scope":
            depth[e.uuid] = level


def otlp_exporter(endpoint: str, fmt: str) -> Any:
    """An OpenInference (or OpenTelemetry) span exporter for endpoint."""
    from . import observability

    if fmt == "opentelemetry":
        otel = observability.OpenTelemetryConfig()
        otel.endpoint, otel.service_name = endpoint, "nemo-relay-demo"
        return observability.OpenTelemetrySubscriber(otel)
    oi = observability.OpenInferenceConfig()
    oi.endpoint, oi.service_name = endpoint, "nemo-relay-demo"
    return observability.OpenInferenceSubscriber(oi)


def main(output: str = "nemo-relay-demo.jsonl", otlp_endpoint: str | None = None,
         otlp_format: str = "openinference") -> int:
    output = os.path.abspath(output)
    events: list[Any] = []
    exporter = otlp_exporter(otlp_endpoint, otlp_format) if otlp_endpoint else None
    subscribers.register("demo-tree", events.append)
    if exporter is not None:
        exporter.register("demo-otlp")
    guardrails.register_tool_conditional_execution("block-destructive", 0, block_destructive)
    specs = [
        plugin.DynamicPluginActivationSpec("redact", "native", manifest("redact")),
        plugin.DynamicPluginActivationSpec("atof_file", "native", manifest("atof_file"),
                                           config={"path": output, "mode": "overwrite"}),
    ]

    async def run() -> None:
        async with await plugin.initialize_with_dynamic_plugins(None, specs):
            await run_agent()

    try:
        asyncio.run(run())
    finally:
        guardrails.deregister_tool_conditional_execution("block-destructive")
        subscribers.deregister("demo-tree")
        if exporter is not None:
            exporter.shutdown()  # deregisters and exports what is queued

    print_tree(events)
    with open(output) as f:
        lines = f.read().splitlines()
    leaked = [s for s in ("sk-demo-secret", "wx-live-0123456789") if any(s in line for line in lines)]
    print(f"\nwrote {len(lines)} ATOF events to {output}")
    print("secrets in the file: " + (", ".join(leaked) if leaked else "none (redacted by the redact plugin)"))
    if exporter is not None:
        failed = f", {exporter.failed_spans} failed" if exporter.failed_spans else ""
        print(f"exported {exporter.exported_spans} {otlp_format} spans to {otlp_endpoint}{failed}")
        if exporter.failed_spans:
            return 1
    return 1 if leaked else 0
