"""OpenTelemetrySubscriber: one span per scope, with the OpenTelemetry GenAI
semantic conventions on LLM, tool and agent spans, exported over OTLP.

Needs the ``otel`` extra (``pip install 'nemo-relay[otel]'``); this module
imports the SDK only when a subscriber is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _common_attrs as common
from . import _llm_view as lv
from ._spans import OtlpSettings, SpanSubscriber

if TYPE_CHECKING:
    from opentelemetry.trace import SpanKind

__all__ = ["OpenTelemetryConfig", "OpenTelemetrySubscriber"]

_CLIENT_SCOPES = {"llm", "tool", "retriever", "embedder", "reranker"}
_OPERATION = {"llm": "chat", "tool": "execute_tool", "agent": "invoke_agent",
              "embedder": "embeddings"}
_REQUEST_PARAMS = {"temperature": "gen_ai.request.temperature", "top_p": "gen_ai.request.top_p",
                   "max_tokens": "gen_ai.request.max_tokens",
                   "max_completion_tokens": "gen_ai.request.max_tokens",
                   "max_output_tokens": "gen_ai.request.max_tokens", "seed": "gen_ai.request.seed"}


class OpenTelemetryConfig(OtlpSettings):
    """Settings of ``OpenTelemetrySubscriber`` (see ``OtlpSettings``)."""


class _GenAiMapping:
    def __init__(self) -> None:
        from opentelemetry.trace import SpanKind

        self._client, self._internal = SpanKind.CLIENT, SpanKind.INTERNAL

    def span_kind(self, ev: dict[str, Any]) -> SpanKind:
        return self._client if ev.get("category") in _CLIENT_SCOPES else self._internal

    def start_attributes(self, ev: dict[str, Any]) -> dict[str, Any]:
        a = common.identity(ev)
        a.update(common.handle_attributes(ev))
        if ev.get("data") is not None:
            a["nemo_relay.start.data_json"] = lv.compact(ev["data"])
        if ev.get("metadata") is not None:
            a["nemo_relay.start.metadata_json"] = lv.compact(ev["metadata"])
        op = _OPERATION.get(ev.get("category") or "")
        if op:
            a["gen_ai.operation.name"] = op
        if common.is_llm(ev):
            req = lv.request_view(ev)
            a["gen_ai.provider.name"] = ev["name"]
            model = lv.model_name(ev, req, None)
            if model:
                a["gen_ai.request.model"] = a["nemo_relay.model_name"] = model
            for k, v in ((req.params or {}) if req else {}).items():
                if k in _REQUEST_PARAMS and isinstance(v, (int, float)) and not isinstance(v, bool):
                    a[_REQUEST_PARAMS[k]] = v
        elif common.is_tool(ev):
            a["gen_ai.tool.name"] = ev["name"]
        elif ev.get("category") == "agent":
            a["gen_ai.agent.name"] = ev["name"]
        call_id = lv.tool_call_id(ev)
        if call_id:
            a["nemo_relay.tool_call_id"] = call_id
            if common.is_tool(ev):
                a["gen_ai.tool.call.id"] = call_id
        return a

    def end_attributes(self, ev: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        a: dict[str, Any] = {}
        if ev.get("data") is not None:
            a["nemo_relay.end.data_json"] = lv.compact(ev["data"])
        if ev.get("metadata") is not None:
            a["nemo_relay.end.metadata_json"] = lv.compact(ev["metadata"])
        if common.is_llm(ev):
            resp = lv.response_view(ev)
            if resp is not None:
                if resp.model:
                    a["gen_ai.response.model"] = resp.model
                if resp.finish_reason:
                    a["gen_ai.response.finish_reasons"] = [resp.finish_reason]
                u = resp.usage
                if u is not None:
                    if u.prompt_tokens is not None:
                        a["gen_ai.usage.input_tokens"] = u.prompt_tokens
                    if u.completion_tokens is not None:
                        a["gen_ai.usage.output_tokens"] = u.completion_tokens
                    if u.cache_read_tokens is not None:
                        a["gen_ai.usage.cache_read.input_tokens"] = u.cache_read_tokens
                    if u.cache_write_tokens is not None:
                        a["gen_ai.usage.cache_creation.input_tokens"] = u.cache_write_tokens
                    if u.cost_total is not None:
                        a["nemo_relay.llm.cost.total"] = u.cost_total
                        a["nemo_relay.llm.cost.currency"] = u.cost_currency or "USD"
                model = lv.model_name(ev, None, resp)
                if model and "gen_ai.request.model" not in start_model(start):
                    a["nemo_relay.model_name"] = model
        return a

    def mark_attributes(self, ev: dict[str, Any]) -> dict[str, Any]:
        return common.mark(ev)

    def orphan_mark_attributes(self, ev: dict[str, Any]) -> dict[str, Any]:
        return common.orphan_mark(ev)


def start_model(start: dict[str, Any]) -> dict[str, Any]:
    """The start event's request model as an attribute dict (empty if none)."""
    req = lv.request_view(start) if common.is_llm(start) else None
    model = lv.model_name(start, req, None)
    return {"gen_ai.request.model": model} if model else {}


class OpenTelemetrySubscriber(SpanSubscriber):
    """Exports every scope as an OpenTelemetry span over OTLP.

    ``register(name)`` subscribes it; events are queued (never blocking the
    agent) and turned into spans and exported by a background thread.
    ``force_flush()`` waits until everything queued was exported;
    ``shutdown()`` deregisters, exports the rest and closes the exporter."""

    def __init__(self, config: OpenTelemetryConfig, *, queue_capacity: int = 4096,
                 _config_owned: bool = False) -> None:
        from ._spans import require_otel

        require_otel("OpenTelemetrySubscriber")
        super().__init__(config, _GenAiMapping(), "OpenTelemetry exporter",
                         queue_capacity=queue_capacity, _config_owned=_config_owned)
