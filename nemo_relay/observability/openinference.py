"""OpenInferenceSubscriber: one span per scope with the OpenInference
semantic conventions (what Arize Phoenix and other LLM tracing tools read),
exported over OTLP.

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

__all__ = ["OpenInferenceConfig", "OpenInferenceSubscriber"]

_KINDS = {"agent": "AGENT", "tool": "TOOL", "llm": "LLM", "retriever": "RETRIEVER",
          "embedder": "EMBEDDING", "reranker": "RERANKER", "guardrail": "GUARDRAIL",
          "evaluator": "EVALUATOR"}
_CLIENT_SCOPES = {"llm", "tool", "retriever", "embedder", "reranker"}


class OpenInferenceConfig(OtlpSettings):
    """Settings of ``OpenInferenceSubscriber`` (see ``OtlpSettings``)."""


def _value(v: Any) -> tuple[str, str]:
    """(value, mime type) for input.value / output.value."""
    if isinstance(v, str):
        return v, "text/plain"
    return lv.compact(v), "application/json"


def _tool_call_attrs(a: dict[str, Any], prefix: str, calls: list[lv.ToolCall]) -> None:
    for j, c in enumerate(calls):
        p = f"{prefix}.tool_calls.{j}.tool_call"
        if c.id:
            a[f"{p}.id"] = c.id
        if c.name:
            a[f"{p}.function.name"] = c.name
        if c.arguments is not None:
            a[f"{p}.function.arguments"] = c.arguments


class _OpenInferenceMapping:
    def __init__(self) -> None:
        from opentelemetry.trace import SpanKind

        self._client, self._internal = SpanKind.CLIENT, SpanKind.INTERNAL

    def span_kind(self, ev: dict[str, Any]) -> SpanKind:
        return self._client if ev.get("category") in _CLIENT_SCOPES else self._internal

    def start_attributes(self, ev: dict[str, Any]) -> dict[str, Any]:
        a: dict[str, Any] = {"openinference.span.kind": _KINDS.get(ev.get("category") or "", "CHAIN")}
        a.update(common.identity(ev))
        a.update(common.handle_attributes(ev))
        data = ev.get("data")
        if common.is_llm(ev):
            req = lv.request_view(ev)
            model = lv.model_name(ev, req, None)
            if model:
                a["llm.model_name"] = model
            a["llm.provider"] = ev["name"]
            if req is not None:
                self._request(a, req)
                last_user = next((m.content for m in reversed(req.messages)
                                  if m.role == "user" and m.content), None)
                if last_user is not None:
                    a["input.value"], a["input.mime_type"] = last_user, "text/plain"
            if "input.value" not in a and data is not None:
                a["input.value"], a["input.mime_type"] = _value(data)
        else:
            if ev.get("metadata") is not None:
                a["metadata"] = lv.compact(ev["metadata"])
            if data is not None:
                a["nemo_relay.start.input_json"] = lv.compact(data)
                a["input.value"], a["input.mime_type"] = _value(data)
            if common.is_tool(ev):
                a["tool.name"] = a["tool_call.function.name"] = ev["name"]
                if data is not None:
                    a["tool.parameters"] = a["tool_call.function.arguments"] = a["input.value"]
        call_id = lv.tool_call_id(ev)
        if call_id:
            a["tool_call.id"] = call_id
        return a

    @staticmethod
    def _request(a: dict[str, Any], req: lv.RequestView) -> None:
        if req.system:
            a["llm.system"] = req.system
        if req.params:
            a["llm.invocation_parameters"] = lv.compact(req.params)
        for i, m in enumerate(req.messages):
            p = f"llm.input_messages.{i}.message"
            a[f"{p}.role"] = m.role
            if m.content is not None:
                a[f"{p}.content"] = m.content
            if m.tool_call_id:
                a[f"{p}.tool_call_id"] = m.tool_call_id
            _tool_call_attrs(a, p, m.tool_calls)
        for i, t in enumerate(req.tools):
            a[f"llm.tools.{i}.tool.json_schema"] = lv.compact(t.as_json())

    def end_attributes(self, ev: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        a: dict[str, Any] = {}
        if ev.get("metadata") is not None:
            a["metadata"] = lv.compact(ev["metadata"])
        out = ev.get("data")
        if out is not None:
            a["nemo_relay.end.output_json"] = lv.compact(out)
        if common.is_llm(ev):
            resp = lv.response_view(ev)
            if resp is not None:
                self._response(a, ev, start, resp)
        if out is not None and "output.value" not in a:
            a["output.value"], a["output.mime_type"] = _value(out)
        return a

    @staticmethod
    def _response(a: dict[str, Any], ev: dict[str, Any], start: dict[str, Any],
                  resp: lv.ResponseView) -> None:
        req_model = lv.model_name(start, lv.request_view(start), None)
        model = lv.model_name(ev, None, resp)
        if model and not req_model:
            a["llm.model_name"] = model
        u = resp.usage
        if u is not None:
            for key, v in (("prompt", u.prompt_tokens), ("completion", u.completion_tokens),
                           ("total", u.total_tokens),
                           ("prompt_details.cache_read", u.cache_read_tokens),
                           ("prompt_details.cache_write", u.cache_write_tokens)):
                if v is not None:
                    a[f"llm.token_count.{key}"] = v
            if u.cost_total is not None and (u.cost_currency or "USD") == "USD":
                a["llm.cost.total"] = u.cost_total
        if resp.finish_reason:
            a["llm.finish_reason"] = resp.finish_reason
        if resp.text is not None or resp.tool_calls:
            a["llm.output_messages.0.message.role"] = "assistant"
        if resp.text is not None:
            a["llm.output_messages.0.message.content"] = resp.text
            a["output.value"], a["output.mime_type"] = resp.text, "text/plain"
        _tool_call_attrs(a, "llm.output_messages.0.message", resp.tool_calls)

    def mark_attributes(self, ev: dict[str, Any]) -> dict[str, Any]:
        return common.mark(ev)

    def orphan_mark_attributes(self, ev: dict[str, Any]) -> dict[str, Any]:
        return {"openinference.span.kind": "CHAIN", **common.orphan_mark(ev)}


class OpenInferenceSubscriber(SpanSubscriber):
    """Exports every scope as an OpenInference span over OTLP (see
    ``OpenTelemetrySubscriber`` for register / force_flush / shutdown)."""

    def __init__(self, config: OpenInferenceConfig, *, queue_capacity: int = 4096,
                 _config_owned: bool = False) -> None:
        from ._spans import require_otel

        require_otel("OpenInferenceSubscriber")
        super().__init__(config, _OpenInferenceMapping(), "OpenInference exporter",
                         queue_capacity=queue_capacity, _config_owned=_config_owned)
