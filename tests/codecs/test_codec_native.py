"""A native plugin's LLM request intercept (ABI v1) sees the codec's
annotated request, and its raw edit and the codec's encoding both reach the
provider."""

from __future__ import annotations

import codec_payloads as payloads
from test_native_plugins import host  # noqa: F401  (the fixture plugin, loaded)

from nemo_relay import LLMRequest, llm
from nemo_relay.codecs import OpenAIChatCodec


def test_native_intercept_receives_the_annotated_request(host, events):  # noqa: F811
    content = payloads.chat_request()
    seen = []
    codec = OpenAIChatCodec()
    llm.execute_sync("native-fixture-llm", LLMRequest({}, content), lambda r: seen.append(r) or payloads.chat_response(),
                     codec=codec, response_codec=codec)
    sent = seen[0].content
    # the fixture's intercept adds a field to the raw request and hands the
    # annotation back unchanged; its execution intercept adds another
    assert sent.pop("native_plugin_llm_request_intercept") is True
    assert sent.pop("native_plugin_llm_execution_request") is True
    assert sent == content
    start = [e for e in events.events if e.name == "native-fixture-llm" and e.scope_category == "start"][0]
    # the fixture's native sanitizer changed the recorded request, so the
    # annotation is the decoding of what was recorded
    shown = start.annotated_request
    assert shown.messages == content["messages"] and shown.tools == content["tools"]
    assert shown.extra["native_plugin_llm_sanitize_request"] is True
    assert shown.to_dict() == codec.decode(LLMRequest({}, start.data["content"])).to_dict()
