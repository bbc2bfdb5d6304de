"""Typed use of the codec API (checked by mypy --strict in test_typing)."""

from __future__ import annotations

from typing import Any

from nemo_relay import AnnotatedLLMRequest, AnnotatedLLMResponse, LLMRequest, intercepts, llm
from nemo_relay.codecs import AnthropicMessagesCodec, LlmCodec, LlmResponseCodec, OpenAIChatCodec


class PromptCodec:
    def decode(self, request: LLMRequest) -> AnnotatedLLMRequest:
        return AnnotatedLLMRequest([{"role": "user", "content": request.content["prompt"]}])

    def encode(self, annotated: AnnotatedLLMRequest, original: LLMRequest) -> LLMRequest:
        return LLMRequest(original.headers, {"prompt": annotated.last_user_message()})

    def decode_response(self, response: Any) -> AnnotatedLLMResponse:
        return AnnotatedLLMResponse(message=response["text"], usage={"total_tokens": 2})


def add_system(name: str, request: LLMRequest, annotated: Any) -> tuple[LLMRequest, Any]:
    if isinstance(annotated, AnnotatedLLMRequest):
        annotated.messages = [{"role": "system", "content": "be brief"}, *annotated.messages]
    return request, annotated


async def main() -> None:
    codec: LlmCodec = PromptCodec()
    rcodec: LlmResponseCodec = OpenAIChatCodec()
    intercepts.register_llm_request("sys", 1, False, add_system)
    try:
        out = await llm.execute("m", LLMRequest({}, {"prompt": "hi"}), lambda r: {"text": "x"},
                                codec=codec, response_codec=PromptCodec())
        sync = llm.execute_sync("m", LLMRequest({}, {"messages": []}), lambda r: {}, response_codec=rcodec)
        handle = llm.call("m", LLMRequest({}, {}))
        llm.call_end(handle, {}, response_codec=AnthropicMessagesCodec())
        annotated = OpenAIChatCodec().decode(LLMRequest({}, {"messages": []}))
        annotated.model = "gpt-4o"
        tools: list[dict[str, Any]] | None = annotated.tools
        response = OpenAIChatCodec().decode_response({"choices": []})
        text: str | None = response.response_text()
        print(out, sync, tools, text, response.usage, annotated.to_dict())
    finally:
        intercepts.deregister_llm_request("sys")
