"""Realistic provider payloads built with the real `openai` and `anthropic`
SDK types (requests are the SDKs' TypedDict params; responses and stream
chunks are their pydantic models, dumped with model_dump(mode="json"))."""

from __future__ import annotations

import json
from typing import Any

from anthropic import types as at
from openai.types import chat as oc
from openai.types import responses as orr
from openai.types.chat.chat_completion import Choice
from openai.types.completion_usage import CompletionUsage, PromptTokensDetails

WEATHER_TOOL: oc.ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": True,
    },
}


def chat_request(n_messages: int = 6, n_tools: int = 3) -> dict[str, Any]:
    """A Chat Completions request: system prompt, multi-part user content with
    an image URL, an assistant tool call and its tool result, unknown fields."""
    messages: list[oc.ChatCompletionMessageParam] = [
        {"role": "system", "content": "You are a careful travel assistant."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is the weather where this photo was taken?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/paris.jpg", "detail": "low"}},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": json.dumps({"temperature_c": 18})},
    ]
    i = 0
    while len(messages) < n_messages:
        role = "user" if i % 2 == 0 else "assistant"
        messages.append({"role": role, "content": f"turn {i}: " + "words " * 12})  # type: ignore[misc, arg-type]
        i += 1
    tools = [WEATHER_TOOL] + [
        {"type": "function", "function": {"name": f"tool_{k}", "description": f"Tool number {k}",
                                          "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}}
        for k in range(1, n_tools)
    ]
    return {
        "model": "gpt-4o-mini",
        "messages": messages[:n_messages],
        "tools": tools[:n_tools],
        "tool_choice": "auto",
        "temperature": 0.3,
        "max_completion_tokens": 512,
        "seed": 7,  # not modelled by the annotated view: must survive encode
        "response_format": {"type": "text"},
        "user": "user-42",
    }


def chat_response(with_tool_call: bool = True) -> dict[str, Any]:
    tool_calls = [oc.ChatCompletionMessageFunctionToolCall(
        id="call_9", type="function",
        function={"name": "get_weather", "arguments": json.dumps({"city": "Lyon"})})] if with_tool_call else None
    completion = oc.ChatCompletion(
        id="chatcmpl-1", object="chat.completion", created=1_700_000_000, model="gpt-4o-mini-2024-07-18",
        system_fingerprint="fp_1",
        choices=[Choice(index=0, finish_reason="tool_calls" if with_tool_call else "stop",
                        message=oc.ChatCompletionMessage(role="assistant", content="Let me check.",
                                                         tool_calls=tool_calls))],
        usage=CompletionUsage(prompt_tokens=120, completion_tokens=30, total_tokens=150,
                              prompt_tokens_details=PromptTokensDetails(cached_tokens=100)),
    )
    return completion.model_dump(mode="json")


def chat_stream() -> list[dict[str, Any]]:
    """Chat chunks: text in pieces, a tool call whose arguments arrive in
    fragments, the finish reason, then the usage chunk (include_usage)."""
    def chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: CompletionUsage | None = None):
        choices = [] if delta is None else [
            {"index": 0, "delta": delta, "finish_reason": finish}]
        return oc.ChatCompletionChunk.model_validate({
            "id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1_700_000_001,
            "model": "gpt-4o-mini", "choices": choices,
            "usage": usage.model_dump() if usage else None}).model_dump(mode="json")
    return [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Checking "}),
        chunk({"content": "the weather."}),
        chunk({"tool_calls": [{"index": 0, "id": "call_s", "type": "function",
                               "function": {"name": "get_weather", "arguments": "{\"ci"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "ty\": \"Nice\"}"}}]}),
        chunk({}, "tool_calls"),
        chunk(None, usage=CompletionUsage(prompt_tokens=50, completion_tokens=12, total_tokens=62)),
    ]


def responses_request() -> dict[str, Any]:
    return {
        "model": "gpt-4.1",
        "instructions": "Answer briefly.",
        "input": [
            {"role": "user", "content": [
                {"type": "input_text", "text": "Describe this image"},
                {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "auto"},
            ]},
            {"type": "function_call", "call_id": "fc_1", "name": "get_weather",
             "arguments": json.dumps({"city": "Oslo"}), "id": "fc_item_1", "status": "completed"},
            {"type": "function_call_output", "call_id": "fc_1", "output": json.dumps({"temperature_c": 3})},
            {"type": "reasoning", "id": "rs_1", "summary": []},
        ],
        "tools": [{"type": "function", "name": "get_weather", "description": "Weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                   "strict": True},
                  {"type": "web_search"}],
        "tool_choice": "auto",
        "temperature": 0.5,
        "max_output_tokens": 300,
        "store": False,
        "text": {"format": {"type": "text"}},
    }


def _responses_usage() -> orr.ResponseUsage:
    return orr.ResponseUsage.model_validate({
        "input_tokens": 200, "output_tokens": 40, "total_tokens": 240,
        "input_tokens_details": {"cached_tokens": 50, "cache_write_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 10}})


def responses_response() -> dict[str, Any]:
    resp = orr.Response.model_validate({
        "id": "resp_1", "object": "response", "created_at": 1_700_000_002, "model": "gpt-4.1-2025-04-14",
        "status": "completed", "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "output": [
            orr.ResponseOutputMessage(id="msg_1", type="message", role="assistant", status="completed",
                                      content=[orr.ResponseOutputText(type="output_text", text="A cat.",
                                                                      annotations=[])]).model_dump(),
            orr.ResponseFunctionToolCall(type="function_call", call_id="fc_2", name="get_weather",
                                         arguments=json.dumps({"city": "Rome"})).model_dump(),
        ],
        "usage": _responses_usage().model_dump(),
    })
    return resp.model_dump(mode="json")


def responses_stream() -> list[dict[str, Any]]:
    final = responses_response()
    created = dict(final, status="in_progress", output=[], usage=None)
    return [
        orr.ResponseCreatedEvent.model_validate({"type": "response.created", "sequence_number": 0,
                                                 "response": created}).model_dump(mode="json"),
        orr.ResponseTextDeltaEvent(type="response.output_text.delta", sequence_number=1, item_id="msg_1",
                                   output_index=0, content_index=0, delta="A ", logprobs=[]).model_dump(mode="json"),
        orr.ResponseTextDeltaEvent(type="response.output_text.delta", sequence_number=2, item_id="msg_1",
                                   output_index=0, content_index=0, delta="cat.", logprobs=[]).model_dump(mode="json"),
        orr.ResponseCompletedEvent.model_validate({"type": "response.completed", "sequence_number": 3,
                                                   "response": final}).model_dump(mode="json"),
    ]


def anthropic_request() -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What's in this picture, and the weather there?"},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/rome.jpg"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Rome"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "22C and sunny"}]},
        ],
        "tools": [{"name": "get_weather", "description": "Weather for a city",
                   "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                   "cache_control": {"type": "ephemeral"}}],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "temperature": 0.2,
        "stop_sequences": ["\n\nHuman:"],
        "thinking": {"type": "disabled"},
    }


def anthropic_response() -> dict[str, Any]:
    msg = at.Message(
        id="msg_01", type="message", role="assistant", model="claude-sonnet-4-5-20250929",
        content=[at.TextBlock(type="text", text="Rome: sunny."),
                 at.ToolUseBlock(type="tool_use", id="toolu_2", name="get_weather", input={"city": "Milan"})],
        stop_reason="tool_use", stop_sequence=None,
        usage=at.Usage(input_tokens=300, output_tokens=25, cache_read_input_tokens=1000,
                       cache_creation_input_tokens=200),
    )
    return msg.model_dump(mode="json")


def anthropic_stream() -> list[dict[str, Any]]:
    start = at.Message(id="msg_s", type="message", role="assistant", model="claude-sonnet-4-5", content=[],
                       stop_reason=None, stop_sequence=None,
                       usage=at.Usage(input_tokens=40, output_tokens=1, cache_read_input_tokens=0))
    events: list[Any] = [
        at.RawMessageStartEvent(type="message_start", message=start),
        at.RawContentBlockStartEvent(type="content_block_start", index=0,
                                     content_block=at.TextBlock(type="text", text="")),
        at.RawContentBlockDeltaEvent(type="content_block_delta", index=0,
                                     delta=at.TextDelta(type="text_delta", text="Let me ")),
        at.RawContentBlockDeltaEvent(type="content_block_delta", index=0,
                                     delta=at.TextDelta(type="text_delta", text="look.")),
        at.RawContentBlockStopEvent(type="content_block_stop", index=0),
        at.RawContentBlockStartEvent(type="content_block_start", index=1, content_block=at.ToolUseBlock(
            type="tool_use", id="toolu_s", name="get_weather", input={})),
        at.RawContentBlockDeltaEvent(type="content_block_delta", index=1,
                                     delta=at.InputJSONDelta(type="input_json_delta", partial_json="{\"city\": ")),
        at.RawContentBlockDeltaEvent(type="content_block_delta", index=1,
                                     delta=at.InputJSONDelta(type="input_json_delta", partial_json="\"Turin\"}")),
        at.RawContentBlockStopEvent(type="content_block_stop", index=1),
        at.RawMessageDeltaEvent.model_validate({"type": "message_delta",
                                                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                                "usage": {"output_tokens": 33}}),
        at.RawMessageStopEvent(type="message_stop"),
    ]
    return [e.model_dump(mode="json") for e in events]
