"""AnnotatedLLMRequest / AnnotatedLLMResponse and the codec protocols."""

from __future__ import annotations

import pytest

import nemo_relay
from nemo_relay import AnnotatedLLMRequest, AnnotatedLLMResponse, LLMRequest, codecs
from nemo_relay.codecs import LlmCodec, LlmResponseCodec

TOOLS = [{"type": "function", "function": {"name": "search", "description": "Search",
                                            "parameters": {"type": "object"}}}]


def test_request_fields_default_and_round_trip():
    messages = [{"role": "system", "content": "Be helpful."}, {"role": "user", "content": "Hi"}]
    a = AnnotatedLLMRequest(messages)
    assert a.messages == messages
    assert (a.model, a.params, a.tools, a.tool_choice) == (None, None, None, None)
    assert a.extra == {}
    b = AnnotatedLLMRequest(messages, model="gpt-4o", params={"temperature": 0.7, "max_tokens": 100},
                            tools=TOOLS, tool_choice="auto", extra={"seed": 1, "nested": {"k": "v"}})
    assert (b.model, b.params, b.tools, b.tool_choice) == ("gpt-4o", {"temperature": 0.7, "max_tokens": 100},
                                                           TOOLS, "auto")
    assert b.extra == {"seed": 1, "nested": {"k": "v"}}
    # the wire form flattens extra next to the typed fields
    assert b.to_dict() == {"messages": messages, "model": "gpt-4o", "params": {"temperature": 0.7, "max_tokens": 100},
                           "tools": TOOLS, "tool_choice": "auto", "seed": 1, "nested": {"k": "v"}}
    assert b == AnnotatedLLMRequest(messages, model="gpt-4o", params={"temperature": 0.7, "max_tokens": 100},
                                    tools=TOOLS, tool_choice="auto", extra={"nested": {"k": "v"}, "seed": 1})
    assert b != a and a == AnnotatedLLMRequest(list(messages))
    assert "AnnotatedLLMRequest(" in repr(b)
    with pytest.raises(TypeError):
        hash(a)


def test_request_properties_are_copies_and_setters_validate():
    a = AnnotatedLLMRequest([{"role": "user", "content": "first"}])
    a.messages.append({"role": "user", "content": "ignored"})
    assert len(a.messages) == 1
    a.messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "second"}]
    a.model = "gpt-4-turbo"
    a.store = True
    a.metadata = {"trace": "t1"}
    a.extra = {"seed": 3}
    assert a.messages[1]["content"] == "second" and a.model == "gpt-4-turbo"
    assert (a.store, a.metadata, a.extra) == (True, {"trace": "t1"}, {"seed": 3})
    a.model = None
    assert a.model is None and "model" not in a.to_dict()
    before = a.to_dict()
    with pytest.raises(ValueError, match="invalid messages"):
        a.messages = [{"content": "no role"}]
    with pytest.raises(ValueError, match="invalid messages"):
        a.messages = None  # type: ignore[assignment]
    with pytest.raises(ValueError, match="invalid store"):
        a.store = "yes"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="invalid tools"):
        a.tools = [1]  # type: ignore[list-item]
    with pytest.raises(ValueError, match="'model' is a field of its own"):
        a.extra = {"model": "x"}
    with pytest.raises(ValueError):
        a.metadata = {"x": object()}
    assert a.to_dict() == before  # a failed assignment changes nothing


def test_request_constructor_errors():
    with pytest.raises(ValueError, match="must be an object with a 'role'"):
        AnnotatedLLMRequest([{"content": "x"}])
    with pytest.raises(ValueError, match="invalid messages"):
        AnnotatedLLMRequest("hello")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="model must be a str"):
        AnnotatedLLMRequest([], model=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="extra must be a dict"):
        AnnotatedLLMRequest([], extra=[1])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        AnnotatedLLMRequest([], "positional-model")  # type: ignore[misc]


def test_request_helpers():
    a = AnnotatedLLMRequest([
        {"role": "system", "content": [{"type": "text", "text": "You are helpful."}]},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                                     {"type": "text", "text": "Thanks!"}]},
        {"role": "tool", "tool_call_id": "c", "content": "r"},
    ])
    assert a.system_prompt() == "You are helpful."
    assert a.last_user_message() == "Thanks!"
    assert a.has_tool_calls() is False
    a.messages = [{"role": "user", "content": "x"},
                  {"role": "assistant", "content": None, "tool_calls": [
                      {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]
    assert a.has_tool_calls() is True and a.system_prompt() is None
    # Anthropic-style tool_use blocks count too
    a.messages = [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}]
    assert a.has_tool_calls() is True and a.last_user_message() is None


def test_response_fields_helpers_and_equality():
    r = AnnotatedLLMResponse(id="r1", model="gpt-4o", message="hello",
                             tool_calls=[{"id": "c1", "name": "f", "arguments": {"a": 1}}],
                             finish_reason="tool_use", usage={"prompt_tokens": 3, "completion_tokens": 2},
                             api_specific={"api": "openai_chat"}, extra={"created": 1})
    assert (r.id, r.model, r.message, r.finish_reason) == ("r1", "gpt-4o", "hello", "tool_use")
    assert r.tool_calls == [{"id": "c1", "name": "f", "arguments": {"a": 1}}]
    assert r.usage == {"prompt_tokens": 3, "completion_tokens": 2}
    assert r.api_specific == {"api": "openai_chat"} and r.extra == {"created": 1}
    assert r.response_text() == "hello" and r.has_tool_calls()
    assert r.to_dict()["created"] == 1
    assert r == AnnotatedLLMResponse(**{k: v for k, v in r.to_dict().items() if k != "created"},
                                     extra={"created": 1})
    empty = AnnotatedLLMResponse()
    assert empty.to_dict() == {} and empty.response_text() is None and not empty.has_tool_calls()
    # a provider's own word is kept, in upstream's {"unknown": ...} wire form
    odd = AnnotatedLLMResponse(finish_reason="pause_turn")
    assert odd.finish_reason == "pause_turn" and odd.to_dict() == {"finish_reason": {"unknown": "pause_turn"}}
    with pytest.raises(AttributeError):
        r.model = "x"  # type: ignore[misc]
    with pytest.raises(ValueError, match="invalid tool_calls"):
        AnnotatedLLMResponse(tool_calls=[{"id": "c"}])
    with pytest.raises(ValueError, match="invalid usage"):
        AnnotatedLLMResponse(usage=[1])  # type: ignore[arg-type]


class _Codec:
    def decode(self, request):
        return AnnotatedLLMRequest(request.content["messages"])

    def encode(self, annotated, original):
        return LLMRequest(original.headers, {**original.content, "messages": annotated.messages})


def test_protocols_and_module_layout():
    assert isinstance(_Codec(), LlmCodec) and not isinstance(object(), LlmCodec)
    for builtin in (codecs.OpenAIChatCodec(), codecs.OpenAIResponsesCodec(), codecs.AnthropicMessagesCodec()):
        assert isinstance(builtin, LlmCodec) and isinstance(builtin, LlmResponseCodec)
        assert repr(builtin) == f"{type(builtin).__name__}()"
        assert builtin == type(builtin)()
    assert nemo_relay.AnnotatedLLMRequest is nemo_relay._native.AnnotatedLLMRequest is codecs.AnnotatedLLMRequest
    assert nemo_relay.AnnotatedLLMResponse is codecs.AnnotatedLLMResponse
    assert codecs.OpenAIChatCodec.__module__ == "nemo_relay.codecs"
