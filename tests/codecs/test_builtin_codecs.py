"""The built-in codecs (C) on realistic payloads made with the openai and
anthropic SDK types: decode, encode round trips, edits, responses, streams,
malformed input."""

from __future__ import annotations

import copy

import codec_payloads as payloads
import pytest

from nemo_relay import AnnotatedLLMRequest, LLMRequest
from nemo_relay.codecs import AnthropicMessagesCodec, OpenAIChatCodec, OpenAIResponsesCodec

CASES = [
    (OpenAIChatCodec, payloads.chat_request),
    (OpenAIResponsesCodec, payloads.responses_request),
    (AnthropicMessagesCodec, payloads.anthropic_request),
]


@pytest.mark.parametrize("codec_cls,make", CASES, ids=["chat", "responses", "anthropic"])
def test_decode_then_encode_without_edits_is_the_identity(codec_cls, make):
    codec = codec_cls()
    original = LLMRequest({"authorization": "Bearer k", "x-trace": "t"}, make())
    annotated = codec.decode(original)
    encoded = codec.encode(annotated, original)
    assert encoded == original
    assert list(encoded.content) == list(original.content)  # even the key order
    # a decoded copy edited back to the same values is still the identity
    again = AnnotatedLLMRequest(annotated.messages, model=annotated.model, params=annotated.params,
                                tools=annotated.tools, tool_choice=annotated.tool_choice, extra=annotated.extra)
    assert codec.encode(again, original) == original


def test_openai_chat_decode_and_edits():
    codec = OpenAIChatCodec()
    content = payloads.chat_request()
    original = LLMRequest({"h": "1"}, content)
    a = codec.decode(original)
    assert a.model == "gpt-4o-mini"
    assert a.messages == content["messages"]  # Chat messages are carried verbatim
    assert a.params == {"temperature": 0.3, "max_tokens": 512}
    assert a.tools == content["tools"] and a.tool_choice == "auto"
    assert a.user == "user-42"
    assert a.extra == {"seed": 7, "response_format": {"type": "text"}}
    assert a.system_prompt() == "You are a careful travel assistant."
    assert a.has_tool_calls()

    a.messages = [{"role": "system", "content": "Answer in French."}, *a.messages[1:]]
    a.params = {"temperature": 0.0, "max_tokens": 64}
    a.tool_choice = {"type": "function", "function": {"name": "get_weather"}}
    a.extra = {**a.extra, "seed": 8}
    out = codec.encode(a, original).content
    assert out["messages"][0] == {"role": "system", "content": "Answer in French."}
    assert out["messages"][1:] == content["messages"][1:]
    assert out["temperature"] == 0.0
    assert out["max_completion_tokens"] == 64 and "max_tokens" not in out  # the key the request used
    assert out["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert out["seed"] == 8 and out["response_format"] == {"type": "text"} and out["user"] == "user-42"
    assert codec.encode(a, original).headers == {"h": "1"}
    # turning streaming on asks for the usage chunk
    a.stream = True
    streamed = codec.encode(a, original).content
    assert streamed["stream"] is True and streamed["stream_options"] == {"include_usage": True}


def test_openai_responses_decode_and_edits():
    codec = OpenAIResponsesCodec()
    content = payloads.responses_request()
    original = LLMRequest({}, content)
    a = codec.decode(original)
    assert a.system_prompt() == "Answer briefly."
    assert a.messages[1] == {"role": "user", "content": [
        {"type": "text", "text": "Describe this image"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "auto"}}]}
    assert a.messages[2]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    assert a.messages[3] == {"role": "tool", "tool_call_id": "fc_1", "content": '{"temperature_c": 3}'}
    assert a.messages[4] == {"type": "reasoning", "id": "rs_1", "summary": []}  # carried as it is
    assert a.tools[0] == {"type": "function", "function": {
        "name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
    assert a.tools[1] == {"type": "web_search"}
    assert a.params == {"temperature": 0.5, "max_tokens": 300}
    assert a.store is False and a.max_output_tokens == 300
    assert a.extra == {"text": {"format": {"type": "text"}}}

    a.messages = [{"role": "system", "content": "Answer at length."}, *a.messages[1:],
                  {"role": "user", "content": "And the weather?"}]
    tools = a.tools
    tools.append({"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}})
    a.tools = tools
    out = codec.encode(a, original).content
    assert out["instructions"] == "Answer at length."
    assert out["input"][:4] == content["input"]  # unchanged items are kept verbatim (ids, status)
    assert out["input"][4] == {"role": "user", "content": "And the weather?"}
    assert out["tools"][:2] == content["tools"]  # strict: True survives
    assert out["tools"][2] == {"type": "function", "name": "get_time", "parameters": {"type": "object"}}
    assert out["text"] == {"format": {"type": "text"}} and out["store"] is False


def test_anthropic_decode_and_edits():
    codec = AnthropicMessagesCodec()
    content = payloads.anthropic_request()
    original = LLMRequest({"anthropic-version": "2023-06-01"}, content)
    a = codec.decode(original)
    assert a.messages[0] == {"role": "system", "content": "You are terse."}
    assert a.messages[1:] == content["messages"]  # content blocks are kept
    assert a.system_prompt() == "You are terse."
    assert a.last_user_message() == "What's in this picture, and the weather there?"
    assert a.has_tool_calls()
    assert a.tools == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    assert a.tool_choice == "auto" and a.parallel_tool_calls is False
    assert a.params == {"temperature": 0.2, "max_tokens": 1024, "stop": ["\n\nHuman:"]}
    assert a.extra == {"thinking": {"type": "disabled"}}

    # an OpenAI-style tool result and tool call become Anthropic blocks
    a.messages = [*a.messages,
                  {"role": "assistant", "content": "Checking.", "tool_calls": [
                      {"id": "toolu_3", "type": "function",
                       "function": {"name": "get_weather", "arguments": '{"city": "Bari"}'}}]},
                  {"role": "tool", "tool_call_id": "toolu_3", "content": "30C"}]
    a.tool_choice = "required"
    a.params = {**a.params, "max_tokens": 256}
    out = codec.encode(a, original).content
    assert out["system"] == content["system"]  # unchanged: cache_control kept
    assert out["messages"][:3] == content["messages"]
    assert out["messages"][3] == {"role": "assistant", "content": [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_3", "name": "get_weather", "input": {"city": "Bari"}}]}
    assert out["messages"][4] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_3", "content": "30C"}]}
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert out["max_tokens"] == 256 and out["tools"] == content["tools"]  # cache_control kept

    a.messages = [{"role": "system", "content": "Be verbose."}, *a.messages[1:]]
    assert codec.encode(a, original).content["system"] == "Be verbose."


def test_decode_response_openai_chat():
    r = OpenAIChatCodec().decode_response(payloads.chat_response())
    assert r.id == "chatcmpl-1" and r.model == "gpt-4o-mini-2024-07-18"
    assert r.response_text() == "Let me check."
    assert r.tool_calls == [{"id": "call_9", "name": "get_weather", "arguments": {"city": "Lyon"}}]
    assert r.finish_reason == "tool_use"
    assert r.usage == {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150, "cache_read_tokens": 100}
    assert r.api_specific == {"api": "openai_chat", "system_fingerprint": "fp_1"}
    assert r.extra["object"] == "chat.completion" and r.extra["created"] == 1_700_000_000
    plain = OpenAIChatCodec().decode_response(payloads.chat_response(with_tool_call=False))
    assert plain.finish_reason == "complete" and plain.tool_calls is None


def test_decode_response_openai_responses():
    r = OpenAIResponsesCodec().decode_response(payloads.responses_response())
    assert (r.id, r.model, r.message, r.finish_reason) == ("resp_1", "gpt-4.1-2025-04-14", "A cat.", "complete")
    assert r.tool_calls == [{"id": "fc_2", "name": "get_weather", "arguments": {"city": "Rome"}}]
    assert r.usage == {"prompt_tokens": 200, "completion_tokens": 40, "total_tokens": 240, "cache_read_tokens": 50}
    assert r.api_specific["api"] == "openai_responses" and r.api_specific["status"] == "completed"
    incomplete = dict(payloads.responses_response(), status="incomplete",
                      incomplete_details={"reason": "max_output_tokens"})
    assert OpenAIResponsesCodec().decode_response(incomplete).finish_reason == "length"


def test_decode_response_anthropic():
    r = AnthropicMessagesCodec().decode_response(payloads.anthropic_response())
    assert (r.id, r.model, r.message, r.finish_reason) == ("msg_01", "claude-sonnet-4-5-20250929", "Rome: sunny.",
                                                           "tool_use")
    assert r.tool_calls == [{"id": "toolu_2", "name": "get_weather", "arguments": {"city": "Milan"}}]
    assert r.usage == {"prompt_tokens": 300, "completion_tokens": 25, "total_tokens": 325,
                       "cache_read_tokens": 1000, "cache_write_tokens": 200}
    assert r.api_specific["api"] == "anthropic_messages" and r.api_specific["stop_reason"] == "tool_use"


@pytest.mark.parametrize("codec_cls,chunks,text,call,usage", [
    (OpenAIChatCodec, payloads.chat_stream, "Checking the weather.", ("call_s", {"city": "Nice"}),
     {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62}),
    (OpenAIResponsesCodec, payloads.responses_stream, "A cat.", ("fc_2", {"city": "Rome"}),
     {"prompt_tokens": 200, "completion_tokens": 40, "total_tokens": 240, "cache_read_tokens": 50}),
    (AnthropicMessagesCodec, payloads.anthropic_stream, "Let me look.", ("toolu_s", {"city": "Turin"}),
     {"prompt_tokens": 40, "completion_tokens": 33, "total_tokens": 73, "cache_read_tokens": 0}),
], ids=["chat", "responses", "anthropic"])
def test_stream_aggregation(codec_cls, chunks, text, call, usage):
    codec = codec_cls()
    r = codec.decode_response(codec.aggregate(chunks()))
    assert r.response_text() == text
    assert [(c["id"], c["arguments"]) for c in r.tool_calls] == [call]
    assert r.finish_reason in ("tool_use", "complete")
    assert r.usage == usage


def test_responses_stream_without_completed_event_is_folded_from_deltas():
    chunks = [c for c in payloads.responses_stream() if c["type"] != "response.completed"]
    r = OpenAIResponsesCodec().decode_response(OpenAIResponsesCodec().aggregate(chunks))
    assert r.response_text() == "A cat." and r.id == "resp_1"


@pytest.mark.parametrize("codec_cls,content,field", [
    (OpenAIChatCodec, {"model": "gpt-4o"}, "'messages' is missing"),
    (OpenAIChatCodec, {"messages": {"role": "user"}}, "'messages' must be an array"),
    (OpenAIChatCodec, {"messages": [{"content": "x"}]}, r"'messages\[0\].role' must be a string"),
    (OpenAIChatCodec, {"messages": [], "model": 4}, "'model' must be a string"),
    (OpenAIChatCodec, {"messages": [], "tools": {}}, "'tools' must be an array"),
    (OpenAIChatCodec, ["not", "an", "object"], "the request content must be a JSON object"),
    (OpenAIResponsesCodec, {"model": "gpt-4.1"}, "'input' is missing"),
    (OpenAIResponsesCodec, {"input": 3}, "'input' must be a string or an array"),
    (OpenAIResponsesCodec, {"input": [{"content": "x"}]}, r"'input\[0\]' must have a string 'role' or 'type'"),
    (AnthropicMessagesCodec, {"max_tokens": 5}, "'messages' is missing"),
    (AnthropicMessagesCodec, {"messages": [], "system": 5}, "'system' must be a string or an array"),
    (AnthropicMessagesCodec, {"messages": [], "tool_choice": "auto"}, "'tool_choice' must be an object"),
])
def test_malformed_requests_are_value_errors_naming_the_field(codec_cls, content, field):
    with pytest.raises(ValueError, match=f"{codec_cls.__name__} request: {field}"):
        codec_cls().decode(LLMRequest({}, content))


def test_malformed_responses_and_encode_arguments():
    with pytest.raises(ValueError, match="'choices' must be an array"):
        OpenAIChatCodec().decode_response({"choices": {}})
    with pytest.raises(ValueError, match="'content' must be an array"):
        AnthropicMessagesCodec().decode_response({"content": "text"})
    with pytest.raises(ValueError, match="'output' must be an array"):
        OpenAIResponsesCodec().decode_response({"output": 1})
    with pytest.raises(ValueError, match="must be a JSON object"):
        OpenAIChatCodec().decode_response([1])
    original = LLMRequest({}, payloads.chat_request())
    with pytest.raises(TypeError, match="expects an AnnotatedLLMRequest"):
        OpenAIChatCodec().encode({"messages": []}, original)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expects an LLMRequest"):
        OpenAIChatCodec().decode({"messages": []})  # type: ignore[arg-type]


def test_decode_does_not_share_state_with_the_request():
    content = payloads.chat_request()
    original = LLMRequest({}, copy.deepcopy(content))
    a = OpenAIChatCodec().decode(original)
    a.messages = []
    assert original.content == content


def test_normalize_detects_the_provider_format():
    from nemo_relay.codecs import normalize_request, normalize_response

    assert normalize_request(LLMRequest({}, payloads.chat_request())).model == "gpt-4o-mini"
    assert normalize_request(LLMRequest({}, payloads.responses_request())).system_prompt() == "Answer briefly."
    assert normalize_request(LLMRequest({}, payloads.anthropic_request())).system_prompt() == "You are terse."
    assert normalize_request(LLMRequest({}, {"prompt": "x"})) is None
    assert normalize_request(LLMRequest({}, {"messages": "not a list"})) is None  # best effort: no error
    assert normalize_response(payloads.chat_response()).finish_reason == "tool_use"
    assert normalize_response(payloads.responses_response()).message == "A cat."
    assert normalize_response(payloads.anthropic_response()).usage["cache_write_tokens"] == 200
    assert normalize_response({"text": "plain"}) is None
    assert normalize_response({"choices": [], "output": []}) is None  # ambiguous
