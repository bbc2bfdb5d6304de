"""What the exporters read from LLM and tool events: model, token usage,
messages, tool definitions and tool calls.

A codec's annotation (``category_profile.annotated_request`` /
``annotated_response``) wins when the event carries one; otherwise the raw
request (``{"headers", "content"}``) and response are read as OpenAI Chat,
OpenAI Responses or Anthropic Messages payloads, and usage falls back to the
loose ``usage`` / ``token_usage`` shapes hand-written agents report.  Every
function takes plain JSON (an event's ``to_dict()``) and returns plain data;
nothing here raises on odd payloads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Message:
    role: str
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None


@dataclass
class ToolCall:
    id: str | None
    name: str | None
    arguments: str | None


@dataclass
class ToolDef:
    name: str
    description: str | None = None
    parameters: Any = None

    def as_json(self) -> dict[str, Any]:
        fn: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            fn["description"] = self.description
        if self.parameters is not None:
            fn["parameters"] = self.parameters
        return {"type": "function", "function": fn}


@dataclass
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    cost_total: float | None = None
    cost_currency: str | None = None

    def empty(self) -> bool:
        return all(v is None for v in (self.prompt_tokens, self.completion_tokens,
                                        self.total_tokens, self.cache_read_tokens,
                                        self.cache_write_tokens, self.cost_total))


@dataclass
class RequestView:
    model: str | None = None
    system: str | None = None
    messages: list[Message] = field(default_factory=list)
    tools: list[ToolDef] = field(default_factory=list)
    params: dict[str, Any] | None = None


@dataclass
class ResponseView:
    model: str | None = None
    text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None


def _obj(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def profile(ev: dict[str, Any]) -> dict[str, Any]:
    return _obj(ev.get("category_profile"))


def text_of(content: Any) -> str | None:
    """The text of a message content: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for item in content:
            if isinstance(item, str):
                parts.append(item)
            elif isinstance(item, dict):
                t = item.get("text")
                if isinstance(t, str) and item.get("type", "text") in (
                        "text", "input_text", "output_text"):
                    parts.append(t)
        return "\n".join(parts) if parts else None
    return None


def _arguments(v: Any) -> str | None:
    if v is None:
        return None
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def _tool_call(tc: Any) -> ToolCall | None:
    """An OpenAI ``{id, function: {name, arguments}}``, an Anthropic
    ``tool_use`` block or an annotation's ``{id, name, arguments}``."""
    if not isinstance(tc, dict):
        return None
    fn = _obj(tc.get("function"))
    name = _str(fn.get("name")) or _str(tc.get("name"))
    args = fn.get("arguments") if "arguments" in fn else tc.get("arguments", tc.get("input"))
    return ToolCall(_str(tc.get("id")) or _str(tc.get("call_id")), name, _arguments(args))


def _message(m: Any) -> Message | None:
    if not isinstance(m, dict):
        return None
    role = _str(m.get("role")) or "user"
    content = m.get("content")
    calls = [c for c in (_tool_call(x) for x in m.get("tool_calls") or []) if c is not None]
    if isinstance(content, list):  # Anthropic blocks: tool_use / tool_result inside content
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                c = _tool_call(block)
                if c is not None:
                    calls.append(c)
            if isinstance(block, dict) and block.get("type") == "tool_result":
                return Message("tool", text_of(block.get("content")),
                               tool_call_id=_str(block.get("tool_use_id")))
    return Message(role, text_of(content), calls, _str(m.get("tool_call_id")))


def _tool_def(t: Any) -> ToolDef | None:
    if not isinstance(t, dict):
        return None
    fn = _obj(t.get("function")) or t  # OpenAI nests under function; Anthropic/Responses do not
    name = _str(fn.get("name"))
    if name is None:
        return None
    params = fn.get("parameters", fn.get("input_schema"))
    return ToolDef(name, _str(fn.get("description")), params)


_PARAM_KEYS = ("temperature", "top_p", "max_tokens", "max_completion_tokens",
               "max_output_tokens", "stop", "seed", "frequency_penalty", "presence_penalty")


def request_view(ev: dict[str, Any]) -> RequestView | None:
    """The request of an LLM start event, or None when nothing is readable."""
    ann = profile(ev).get("annotated_request")
    if isinstance(ann, dict):
        return _from_request(ann, annotated=True)
    data = ev.get("data")
    if not isinstance(data, dict):
        return None
    content = data.get("content") if "content" in data and "headers" in data else data
    if not isinstance(content, dict):
        return None
    return _from_request(content, annotated=False)


def _from_request(c: dict[str, Any], *, annotated: bool) -> RequestView:
    view = RequestView(model=_str(c.get("model")))
    system = c.get("system", c.get("instructions"))
    if system is not None:
        view.system = text_of(system)
    raw = c.get("messages")
    if raw is None and isinstance(c.get("input"), (list, str)):  # OpenAI Responses
        raw = c["input"] if isinstance(c["input"], list) else [{"role": "user", "content": c["input"]}]
    for m in raw if isinstance(raw, list) else []:
        msg = _message(m)
        if msg is not None:
            view.messages.append(msg)
    if view.system is None:
        view.system = next((m.content for m in view.messages if m.role in ("system", "developer")), None)
    view.tools = [t for t in (_tool_def(x) for x in c.get("tools") or []) if t is not None]
    params = c.get("params") if annotated else {k: c[k] for k in _PARAM_KEYS if k in c}
    view.params = params if isinstance(params, dict) and params else None
    return view


def usage_of(payload: Any) -> Usage | None:
    """Token counts and cost from a ``usage`` / ``token_usage`` object."""
    obj = _obj(payload)
    found = [u for u in (obj.get("usage"), obj.get("token_usage")) if isinstance(u, dict)]
    if not found:
        return None

    def first(*keys: str) -> int | None:
        for u in found:
            for k in keys:
                v = _int(u.get(k))
                if v is not None:
                    return v
        return None

    def nested(outer: str, inner: str) -> int | None:
        for u in found:
            v = _int(_obj(u.get(outer)).get(inner))
            if v is not None:
                return v
        return None

    u = Usage(
        prompt_tokens=first("prompt_tokens", "input_tokens", "inputTokens", "input"),
        completion_tokens=first("completion_tokens", "output_tokens", "completionTokens",
                                "outputTokens", "output"),
        total_tokens=first("total_tokens", "totalTokens", "total"),
        cache_read_tokens=first("cached_tokens", "cachedTokens")
        or nested("prompt_tokens_details", "cached_tokens")
        or nested("input_tokens_details", "cached_tokens")
        or first("cache_read_tokens", "cache_read_input_tokens", "cacheReadTokens"),
        cache_write_tokens=first("cache_write_tokens", "cache_creation_input_tokens",
                                 "cacheWriteTokens"),
    )
    if u.total_tokens is None and u.prompt_tokens is not None and u.completion_tokens is not None:
        u.total_tokens = u.prompt_tokens + u.completion_tokens
    for usage in found:
        if _num(usage.get("cost_usd")) is not None:
            u.cost_total, u.cost_currency = _num(usage.get("cost_usd")), "USD"
            break
        cost = usage.get("cost")
        if isinstance(cost, dict):
            total = _num(cost.get("total"))
            if total is None:
                parts = [_num(cost.get(k)) for k in ("input", "output", "cache_read", "cache_write")]
                total = sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None
            if total is not None:
                u.cost_total, u.cost_currency = total, _str(cost.get("currency")) or "USD"
                break
    return None if u.empty() else u


_FINISH = {"stop": "complete", "end_turn": "complete", "stop_sequence": "complete",
           "completed": "complete", "length": "length", "max_tokens": "length",
           "tool_calls": "tool_use", "tool_use": "tool_use", "function_call": "tool_use",
           "content_filter": "content_filter"}


def response_view(ev: dict[str, Any]) -> ResponseView | None:
    """The response of an LLM end event, or None when nothing is readable."""
    ann = profile(ev).get("annotated_response")
    out = ev.get("data")
    if isinstance(ann, dict):
        view = ResponseView(model=_str(ann.get("model")), text=text_of(ann.get("message")))
        view.tool_calls = [c for c in (_tool_call(x) for x in ann.get("tool_calls") or []) if c]
        fr = ann.get("finish_reason")
        view.finish_reason = fr if isinstance(fr, str) else (
            _str(_obj(fr).get("unknown")) if isinstance(fr, dict) else None)
        view.usage = usage_of(ann)
        raw_usage = usage_of(out)
        if view.usage is None:
            view.usage = raw_usage
        elif raw_usage is not None:  # fill what the annotation lacks
            for k in ("prompt_tokens", "completion_tokens", "total_tokens", "cache_read_tokens",
                      "cache_write_tokens", "cost_total", "cost_currency"):
                if getattr(view.usage, k) is None:
                    setattr(view.usage, k, getattr(raw_usage, k))
        return view
    if not isinstance(out, dict):
        return None
    view = ResponseView(model=_str(out.get("model")), usage=usage_of(out))
    choices = out.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):  # OpenAI Chat
        first = choices[0]
        msg = _message(first.get("message")) if isinstance(first.get("message"), dict) else None
        if msg is not None:
            view.text, view.tool_calls = msg.content, msg.tool_calls
        view.finish_reason = _str(first.get("finish_reason"))
    elif isinstance(out.get("content"), list):  # Anthropic Messages
        msg = _message({"role": "assistant", "content": out["content"]})
        if msg is not None:
            view.text, view.tool_calls = msg.content, msg.tool_calls
        view.finish_reason = _str(out.get("stop_reason"))
    elif isinstance(out.get("output"), list):  # OpenAI Responses
        texts = []
        for item in out["output"]:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "message":
                t = text_of(item.get("content"))
                if t:
                    texts.append(t)
            elif item.get("type") == "function_call":
                c = _tool_call(item)
                if c is not None:
                    view.tool_calls.append(c)
        view.text = "\n".join(texts) if texts else None
        view.finish_reason = _str(out.get("status"))
    elif isinstance(out.get("content"), str):
        view.text = out["content"]
    if view.finish_reason is not None:
        view.finish_reason = _FINISH.get(view.finish_reason, view.finish_reason)
    return view


def model_name(ev: dict[str, Any], req: RequestView | None, resp: ResponseView | None) -> str | None:
    """The profile's model name, else the response's, else the request's."""
    return (_str(profile(ev).get("model_name")) or (resp.model if resp else None)
            or (req.model if req else None))


def tool_call_id(ev: dict[str, Any]) -> str | None:
    return _str(profile(ev).get("tool_call_id"))


def compact(value: Any) -> str:
    """JSON text for an attribute (compact, UTF-8 kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
