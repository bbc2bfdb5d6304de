"""The codec of LangChain model calls: LangChain messages <-> the annotated
request, and a model result -> the annotated response.

No built-in codec reads LangChain's message objects, so the annotation is made
from the messages directly: ``human`` -> ``user``, ``ai`` -> ``assistant``
(tool calls in the OpenAI Chat shape, arguments as JSON text), ``system``,
``tool`` (with ``tool_call_id``), any other type by its own name.  The request
content it reads is the one the middleware and ``invoke_model`` send:
``{"messages": [LangChain message dicts], "model", "tools", "tool_choice",
"model_settings"}``.  Encoding keeps every message an intercept left alone as
it was (ids, metadata and all) and builds new LangChain messages only for the
ones it changed.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    messages_from_dict,
)

from nemo_relay import AnnotatedLLMRequest, AnnotatedLLMResponse, LLMRequest

from ._payloads import Json, messages_to_json, to_json

__all__ = ["LangChainCodec"]

_ROLES = {"human": "user", "ai": "assistant", "AIMessageChunk": "assistant"}
# the content keys the annotated request models; the rest stay in `extra`
_MODELED = ("messages", "model", "tools", "tool_choice", "model_settings")
_FINISH = {
    "stop": "complete",
    "end_turn": "complete",
    "tool_calls": "tool_use",
    "tool_use": "tool_use",
    "length": "length",
    "max_tokens": "length",
    "content_filter": "content_filter",
}


def _annotated_message(message: BaseMessage) -> dict[str, Any]:
    role = message.role if isinstance(message, ChatMessage) else _ROLES.get(message.type, message.type)
    out: dict[str, Any] = {"role": role, "content": to_json(message.content)}
    if message.name is not None:
        out["name"] = message.name
    if isinstance(message, AIMessage) and message.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.get("id") or "",
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(to_json(call["args"]))},
            }
            for call in message.tool_calls
        ]
    if isinstance(message, ToolMessage):
        out["tool_call_id"] = message.tool_call_id
    return out


def _tool_calls_from(annotated: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    for call in annotated if isinstance(annotated, list) else []:
        if not isinstance(call, dict):
            continue
        function = call.get("function")
        spec = function if isinstance(function, dict) else call
        arguments = spec.get("arguments", spec.get("args", {}))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                arguments = {"arguments": arguments}
        calls.append({"name": str(spec.get("name") or ""), "args": arguments if isinstance(arguments, dict) else {},
                      "id": str(call.get("id") or ""), "type": "tool_call"})
    return calls


def _langchain_message(message: dict[str, Any]) -> BaseMessage:
    role = message.get("role")
    content = message.get("content")
    content = "" if content is None else content
    name = message.get("name")
    if role == "system":
        return SystemMessage(content=content, name=name)
    if role == "user":
        return HumanMessage(content=content, name=name)
    if role == "assistant":
        return AIMessage(content=content, name=name, tool_calls=_tool_calls_from(message.get("tool_calls")))
    if role == "tool":
        return ToolMessage(content=content, name=name, tool_call_id=str(message.get("tool_call_id") or ""))
    if isinstance(role, str) and role:
        return ChatMessage(content=content, role=role, name=name)
    raise ValueError(f"an annotated message needs a role, got {message!r:.120}")


def _content(request: LLMRequest) -> dict[str, Json]:
    content = request.content
    if not isinstance(content, dict):
        raise TypeError(f"a LangChain model request is a JSON object, not {type(content).__name__}")
    return content


class LangChainCodec:
    """Request and response codec of the LangChain integration's model calls."""

    def decode(self, request: LLMRequest) -> AnnotatedLLMRequest:
        content = _content(request)
        raw = content.get("messages")
        messages = messages_from_dict(raw) if isinstance(raw, list) else []
        settings = content.get("model_settings")
        tools = content.get("tools")
        choice = content.get("tool_choice")
        model = content.get("model")
        extra = {k: v for k, v in content.items() if k not in _MODELED}
        return AnnotatedLLMRequest(
            [_annotated_message(m) for m in messages],
            model=model if isinstance(model, str) else None,
            params=settings if isinstance(settings, dict) and settings else None,
            tools=tools if isinstance(tools, list) else None,
            tool_choice=choice if isinstance(choice, (str, dict)) else None,
            extra=extra or None,
        )

    def encode(self, annotated: AnnotatedLLMRequest, original: LLMRequest) -> LLMRequest:
        content = dict(_content(original))
        before = self.decode(original)
        raw = content.get("messages")
        old_dicts: list[Any] = raw if isinstance(raw, list) else []
        old = before.messages
        new: list[Json] = []
        for i, message in enumerate(annotated.messages):
            if i < len(old) and i < len(old_dicts) and message == old[i]:
                new.append(old_dicts[i])  # untouched: keep LangChain's own dict
            else:
                new.extend(messages_to_json([_langchain_message(message)]))
        content["messages"] = new
        for key, value in (("model", annotated.model), ("tools", annotated.tools),
                           ("tool_choice", annotated.tool_choice), ("model_settings", annotated.params)):
            if value is not None:
                content[key] = value
            else:
                content.pop(key, None)
        for key in [k for k in content if k not in _MODELED and k not in annotated.extra]:
            del content[key]
        content.update(annotated.extra)
        return LLMRequest(original.headers, content)

    def decode_response(self, response: Json) -> AnnotatedLLMResponse:
        if not isinstance(response, dict) or not isinstance(response.get("messages"), list):
            raise TypeError("expected a LangChain model result {'messages': [message dicts]}")
        messages = messages_from_dict(response["messages"])
        if not messages:
            return AnnotatedLLMResponse()
        message = next((m for m in reversed(messages) if isinstance(m, AIMessage)), messages[-1])
        meta = message.response_metadata if isinstance(message.response_metadata, dict) else {}
        model = next((meta[k] for k in ("model_name", "model", "model_id") if isinstance(meta.get(k), str)), None)
        reason = next((meta[k] for k in ("finish_reason", "stop_reason") if isinstance(meta.get(k), str)), None)
        usage: dict[str, Any] | None = None
        if isinstance(message, AIMessage) and message.usage_metadata:
            u = message.usage_metadata
            usage = {"prompt_tokens": u["input_tokens"], "completion_tokens": u["output_tokens"],
                     "total_tokens": u["total_tokens"]}
        tool_calls = None
        if isinstance(message, AIMessage) and message.tool_calls:
            tool_calls = [{"id": c.get("id") or "", "name": c["name"], "arguments": to_json(c["args"])}
                          for c in message.tool_calls]
        extra = {"structured_response": response["structured_response"]} if "structured_response" in response else None
        return AnnotatedLLMResponse(
            id=message.id,
            model=model,
            message=message.text or None,
            tool_calls=tool_calls,
            finish_reason=_FINISH.get(reason, reason) if reason else None,
            usage=usage,
            extra=extra,
        )


#: The one instance the integration uses (the codec keeps no state).
CODEC = LangChainCodec()
