"""codec= and response_codec= on LLM calls: intercepts see the annotated
request and their edits reach the provider; end events carry the annotated
response; failures name the codec and still record one end event."""

from __future__ import annotations

import asyncio
import copy

import codec_payloads as payloads
import pytest

from nemo_relay import AnnotatedLLMRequest, AnnotatedLLMResponse, LLMRequest, errors, guardrails, intercepts, llm
from nemo_relay.codecs import AnthropicMessagesCodec, OpenAIChatCodec, OpenAIResponsesCodec


def _prepend_system(name, request, annotated):
    assert isinstance(annotated, AnnotatedLLMRequest)
    annotated.messages = [{"role": "system", "content": "Reply in French."}, *annotated.messages]
    return request, annotated


async def test_intercept_edits_reach_the_provider_and_unknown_fields_survive(events, registered):
    registered(intercepts, "llm_request", "french", 10, False, _prepend_system)
    content = payloads.chat_request()
    seen: list[LLMRequest] = []

    async def provider(request):
        seen.append(request)
        return payloads.chat_response()

    codec = OpenAIChatCodec()
    out = await llm.execute("openai", LLMRequest({"authorization": "k"}, content), provider,
                            codec=codec, response_codec=codec)
    assert out == payloads.chat_response()  # the caller gets the raw response
    sent = seen[0].content
    assert sent["messages"][0] == {"role": "system", "content": "Reply in French."}
    assert sent["messages"][1:] == content["messages"]
    assert {k: v for k, v in sent.items() if k != "messages"} == {k: v for k, v in content.items() if k != "messages"}
    assert seen[0].headers == {"authorization": "k"}

    start, end = events.named("openai")
    assert isinstance(start.annotated_request, AnnotatedLLMRequest)
    assert start.annotated_request.messages[0]["content"] == "Reply in French."
    assert start.to_dict()["category_profile"]["annotated_request"] == start.annotated_request.to_dict()
    assert start.annotated_response is None and end.annotated_request is None
    ann = end.annotated_response
    assert isinstance(ann, AnnotatedLLMResponse)
    assert ann.model == "gpt-4o-mini-2024-07-18" and ann.finish_reason == "tool_use"
    assert ann.usage["prompt_tokens"] == 120 and ann.usage["cache_read_tokens"] == 100
    assert end.to_dict()["category_profile"]["annotated_response"] == ann.to_dict()
    assert end.data == payloads.chat_response()


def test_execute_sync_with_anthropic_and_raw_plus_annotated_edits(events, registered):
    def both(name, request, annotated):
        # a raw edit (a header, a field) and an annotated edit in one intercept
        raw = LLMRequest({**request.headers, "x-extra": "1"}, {**request.content, "top_k": 5})
        annotated.params = {**annotated.params, "temperature": 0.9}
        return raw, annotated

    registered(intercepts, "llm_request", "both", 1, False, both)
    content = payloads.anthropic_request()
    seen = []
    codec = AnthropicMessagesCodec()
    llm.execute_sync("claude", LLMRequest({"anthropic-version": "2023-06-01"}, content),
                     lambda r: seen.append(r) or payloads.anthropic_response(), codec=codec, response_codec=codec)
    sent = seen[0]
    assert sent.headers == {"anthropic-version": "2023-06-01", "x-extra": "1"}
    assert sent.content["temperature"] == 0.9 and sent.content["top_k"] == 5
    assert sent.content["system"] == content["system"] and sent.content["messages"] == content["messages"]
    end = events.one("claude", "end")
    assert end.annotated_response.usage["cache_write_tokens"] == 200
    assert end.annotated_response.tool_calls == [{"id": "toolu_2", "name": "get_weather",
                                                  "arguments": {"city": "Milan"}}]


def test_without_intercepts_the_request_is_passed_unchanged(events):
    content = payloads.responses_request()
    seen = []
    llm.execute_sync("resp", LLMRequest({}, content), lambda r: seen.append(r) or {}, codec=OpenAIResponsesCodec())
    assert seen[0].content == content
    assert events.one("resp", "start").annotated_request.system_prompt() == "Answer briefly."


def test_sanitized_requests_are_what_the_annotation_shows(events, registered):
    def hide_user_text(request):
        content = copy.deepcopy(request.content)
        for m in content["messages"]:
            if m["role"] == "user" and isinstance(m["content"], str):
                m["content"] = "[hidden]"
        return LLMRequest(request.headers, content)

    registered(guardrails, "llm_sanitize_request", "hide", 1, hide_user_text)
    registered(intercepts, "llm_request", "noop", 1, False, lambda n, r, a: (r, a))
    content = {"model": "gpt-4o", "messages": [{"role": "user", "content": "my card is 4111"}]}
    llm.execute_sync("m", LLMRequest({}, content), lambda r: {"ok": True}, codec=OpenAIChatCodec())
    start = events.one("m", "start")
    assert start.data["content"]["messages"][0]["content"] == "[hidden]"
    assert start.annotated_request.messages == [{"role": "user", "content": "[hidden]"}]


class EchoCodec:
    """A user codec: a tiny provider shape {"prompt": str}."""

    def decode(self, request):
        return AnnotatedLLMRequest([{"role": "user", "content": request.content["prompt"]}],
                                   model=request.content.get("model"))

    def encode(self, annotated, original):
        return LLMRequest(original.headers, {**original.content, "prompt": annotated.last_user_message()})

    def decode_response(self, response):
        return AnnotatedLLMResponse(model="echo-1", message=response["text"],
                                    usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2})


async def test_user_codecs_and_intercept_edits(events, registered):
    def shout(name, request, annotated):
        annotated.messages = [{"role": "user", "content": annotated.last_user_message().upper()}]
        return request, annotated

    registered(intercepts, "llm_request", "shout", 1, False, shout)
    codec = EchoCodec()
    out = await llm.execute("echo", LLMRequest({}, {"prompt": "hi", "keep": 1}),
                            lambda r: {"text": r.content["prompt"], "keep": r.content["keep"]},
                            codec=codec, response_codec=codec)
    assert out == {"text": "HI", "keep": 1}
    assert events.one("echo", "end").annotated_response.message == "HI"


async def test_stream_execute_aggregates_chunks_into_the_end_annotation(events):
    chunks = payloads.anthropic_stream()

    async def provider(request):
        for c in chunks:
            await asyncio.sleep(0)
            yield c

    got = []
    codec = AnthropicMessagesCodec()
    stream = await llm.stream_execute("claude-stream", LLMRequest({}, payloads.anthropic_request()), provider,
                                      got.append, lambda: {"chunks": len(got)}, codec=codec, response_codec=codec)
    async for _ in stream:
        pass
    assert len(got) == len(chunks)
    end = events.one("claude-stream", "end")
    assert end.data == {"chunks": len(chunks)}  # the finalizer's value is still the recorded data
    ann = end.annotated_response
    assert ann.response_text() == "Let me look." and ann.finish_reason == "tool_use"
    assert ann.tool_calls == [{"id": "toolu_s", "name": "get_weather", "arguments": {"city": "Turin"}}]
    assert ann.usage == {"prompt_tokens": 40, "completion_tokens": 33, "total_tokens": 73, "cache_read_tokens": 0}
    assert events.one("claude-stream", "start").annotated_request.system_prompt() == "You are terse."


async def test_stream_with_a_user_response_codec_decodes_the_finalizer_value(events):
    async def provider(request):
        yield {"t": "a"}
        yield {"t": "b"}

    got = []
    stream = await llm.stream_execute("s", LLMRequest({}, {"prompt": "x"}), provider, got.append,
                                      lambda: {"text": "".join(c["t"] for c in got)}, response_codec=EchoCodec())
    assert [c async for c in stream] == [{"t": "a"}, {"t": "b"}]
    assert events.one("s", "end").annotated_response.message == "ab"


def test_manual_call_end_with_response_codec_or_annotation(events):
    h = llm.call("manual", LLMRequest({}, payloads.chat_request()), codec=OpenAIChatCodec())
    assert events.one("manual", "start").annotated_request.model == "gpt-4o-mini"
    with pytest.raises(ValueError, match="OpenAIChatCodec request: 'messages' is missing"):
        llm.call("manual-bad", LLMRequest({}, {}), codec=OpenAIChatCodec())
    assert events.named("manual-bad") == []
    llm.call_end(h, payloads.chat_response(), response_codec=OpenAIChatCodec())
    assert events.one("manual", "end").annotated_response.usage["total_tokens"] == 150
    h2 = llm.call("manual2", LLMRequest({}, {}))
    llm.call_end(h2, {"x": 1}, annotated_response={"model": "m", "message": "hi"})
    assert events.one("manual2", "end").annotated_response == AnnotatedLLMResponse(model="m", message="hi")
    h3 = llm.call("manual3", LLMRequest({}, {}))
    with pytest.raises(TypeError, match="annotated_response must be"):
        llm.call_end(h3, {}, annotated_response=[1])  # type: ignore[arg-type]


class RaisingCodec(EchoCodec):
    def decode(self, request):
        raise KeyError("prompt")


class WrongTypeCodec(EchoCodec):
    def decode_response(self, response):
        return {"model": "not an AnnotatedLLMResponse"}


async def test_a_raising_request_codec_fails_the_call_naming_it_with_one_end_event(events):
    called = []
    with pytest.raises(errors.CodecError, match=r"codec RaisingCodec.decode\(\) failed: KeyError") as info:
        await llm.execute("bad", LLMRequest({}, {"prompt": "x"}), lambda r: called.append(r), codec=RaisingCodec())
    assert isinstance(info.value.__cause__, KeyError) and info.value.codec == "RaisingCodec"
    assert called == []  # the provider never ran
    start, end = events.named("bad")
    assert end.scope_category == "end" and end.metadata["otel.status_code"] == "ERROR"
    assert "RaisingCodec.decode()" in end.metadata["otel.status_description"]


def test_a_response_codec_of_the_wrong_type_fails_the_call_with_one_end_event(events):
    with pytest.raises(TypeError, match=r"codec WrongTypeCodec.decode_response\(\) returned dict; "
                                        r"expected AnnotatedLLMResponse"):
        llm.execute_sync("wrong", LLMRequest({}, {"prompt": "x"}), lambda r: {"text": "y"},
                         response_codec=WrongTypeCodec())
    ends = events.named("wrong", "end")
    assert len(ends) == 1 and ends[0].metadata["otel.status_code"] == "ERROR"
    assert ends[0].data == {"text": "y"} and ends[0].annotated_response is None


async def test_a_malformed_provider_payload_is_a_value_error_naming_the_field(events):
    with pytest.raises(ValueError, match="OpenAIChatCodec request: 'messages' must be an array"):
        await llm.execute("malformed", LLMRequest({}, {"messages": "hi"}), lambda r: {}, codec=OpenAIChatCodec())
    assert len(events.named("malformed", "end")) == 1
    with pytest.raises(ValueError, match="'choices' must be an array"):
        await llm.execute("badresp", LLMRequest({}, {"messages": []}), lambda r: {"choices": 1},
                          response_codec=OpenAIChatCodec())
    assert len(events.named("badresp", "end")) == 1


def test_objects_that_are_not_codecs_are_refused_before_anything_runs(events):
    with pytest.raises(TypeError, match="codec must implement LlmCodec"):
        llm.execute_sync("x", LLMRequest({}, {}), lambda r: {}, codec=object())
    with pytest.raises(TypeError, match="response_codec must implement LlmResponseCodec"):
        llm.execute_sync("x", LLMRequest({}, {}), lambda r: {}, response_codec=EchoCodec.decode)
    assert events.events == []


def test_a_failing_response_codec_on_call_end_raises_after_recording_the_end(events):
    h = llm.call("manual-fail", LLMRequest({}, {"prompt": "x"}))
    with pytest.raises(TypeError, match=r"codec WrongTypeCodec.decode_response\(\) returned dict"):
        llm.call_end(h, {"text": "y"}, response_codec=WrongTypeCodec())
    (end,) = events.named("manual-fail", "end")
    assert end.data == {"text": "y"} and end.annotated_response is None
