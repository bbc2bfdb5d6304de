"""LangChainCodec: LangChain messages <-> the annotated request, a model
result -> the annotated response."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core", reason="needs the 'langchain' extra")

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage  # noqa: E402

from nemo_relay import LLMRequest  # noqa: E402
from nemo_relay.integrations.langchain._codec import LangChainCodec  # noqa: E402
from nemo_relay.integrations.langchain._payloads import messages_to_json  # noqa: E402

MESSAGES = [
    SystemMessage("be brief"),
    HumanMessage("weather in Paris?", id="h1"),
    AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "c1"}], id="a1"),
    ToolMessage("sunny", tool_call_id="c1", name="weather"),
]


def request() -> LLMRequest:
    return LLMRequest({"x-id": "1"}, {"messages": messages_to_json(MESSAGES), "model": "m1",
                                      "tools": [{"name": "weather"}], "tool_choice": "auto",
                                      "model_settings": {"temperature": 0}, "trace": "t-1"})


def test_decode_gives_role_messages_with_tool_calls():
    annotated = LangChainCodec().decode(request())
    assert annotated.messages == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "content": "sunny", "name": "weather", "tool_call_id": "c1"},
    ]
    assert (annotated.model, annotated.tool_choice) == ("m1", "auto")
    assert annotated.tools == [{"name": "weather"}]
    assert annotated.params == {"temperature": 0}
    assert annotated.extra == {"trace": "t-1"}
    assert annotated.system_prompt() == "be brief"
    assert annotated.has_tool_calls()


def test_encode_without_edits_returns_the_request_unchanged():
    codec = LangChainCodec()
    original = request()
    assert codec.encode(codec.decode(original), original) == original


def test_encode_rebuilds_only_the_messages_an_intercept_changed():
    codec = LangChainCodec()
    original = request()
    annotated = codec.decode(original)
    messages = annotated.messages
    messages[1] = {"role": "user", "content": "weather in Rome?"}
    messages[2]["tool_calls"][0]["function"]["arguments"] = '{"city": "Rome"}'
    annotated.messages = messages
    annotated.model = "m2"
    encoded = codec.encode(annotated, original)

    sent = encoded.content["messages"]
    assert sent[0] == original.content["messages"][0]          # untouched: the same dict
    assert sent[3] == original.content["messages"][3]
    assert sent[1]["type"] == "human" and sent[1]["data"]["content"] == "weather in Rome?"
    assert sent[2]["data"]["tool_calls"][0]["args"] == {"city": "Rome"}
    assert encoded.content["model"] == "m2"
    assert encoded.content["trace"] == "t-1"
    assert encoded.headers == {"x-id": "1"}


def test_decode_response_reads_text_tool_calls_finish_reason_and_usage():
    codec = LangChainCodec()
    message = AIMessage(
        "Let me check.", id="r1",
        tool_calls=[{"name": "weather", "args": {"city": "Oslo"}, "id": "c2"}],
        response_metadata={"finish_reason": "tool_calls", "model_name": "gpt-x"},
        usage_metadata={"input_tokens": 11, "output_tokens": 7, "total_tokens": 18},
    )
    response = codec.decode_response({"messages": messages_to_json([message])})
    assert (response.id, response.model, response.response_text()) == ("r1", "gpt-x", "Let me check.")
    assert response.finish_reason == "tool_use"
    assert response.usage == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    assert response.tool_calls == [{"id": "c2", "name": "weather", "arguments": {"city": "Oslo"}}]
    odd = codec.decode_response({"messages": messages_to_json([
        AIMessage("x", response_metadata={"stop_reason": "pause_turn"})])})
    assert odd.finish_reason == "pause_turn"
    with pytest.raises(TypeError, match="LangChain model result"):
        codec.decode_response("not a result")
