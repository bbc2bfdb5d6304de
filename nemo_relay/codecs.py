"""LLM codecs: a provider's raw request and response, understood.

A request codec (``LlmCodec``) decodes a provider request into an
:class:`~nemo_relay.AnnotatedLLMRequest` (messages, model, params, tools,
tool choice) that LLM request intercepts can read and edit, and encodes the
edits back into the provider's format.  A response codec
(``LlmResponseCodec``) decodes the provider response into an
:class:`~nemo_relay.AnnotatedLLMResponse` (text, tool calls, finish reason,
token usage and, with pricing configured, cost) attached to the LLM end
event.  Pass them to ``llm.execute`` / ``execute_sync`` / ``stream_execute``
as ``codec=`` and ``response_codec=`` (and ``response_codec=`` to
``llm.call_end``).

The built-in codecs run in C: ``OpenAIChatCodec`` (Chat Completions),
``OpenAIResponsesCodec`` (Responses) and ``AnthropicMessagesCodec``
(Messages).  Each is both a request and a response codec, and folds its
provider's streaming chunks into one response (``aggregate``; a streaming
call with a built-in ``response_codec`` does it by itself).  Encoding keeps
every field the annotated view does not model: decode then encode with no
edits returns the original request unchanged.

Any object with ``decode`` / ``encode`` (or ``decode_response``) methods is a
codec too; the protocols below describe them.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._native import _normalize_request, _normalize_response
from ._native import (
    AnnotatedLLMRequest,
    AnnotatedLLMResponse,
    AnthropicMessagesCodec,
    LLMRequest,
    OpenAIChatCodec,
    OpenAIResponsesCodec,
)
from ._types import Json

__all__ = [
    "AnnotatedLLMRequest",
    "AnnotatedLLMResponse",
    "AnthropicMessagesCodec",
    "LlmCodec",
    "LlmResponseCodec",
    "OpenAIChatCodec",
    "OpenAIResponsesCodec",
    "normalize_request",
    "normalize_response",
]


def normalize_request(request: LLMRequest) -> AnnotatedLLMRequest | None:
    """Best-effort annotation of a request no codec was given for: the
    built-in codec whose format the body has (Responses: ``input`` or
    ``instructions``; Anthropic: ``system``; Chat: ``messages``) decodes it.
    None when no format matches or the body does not decode."""
    return _normalize_request(request)


def normalize_response(response: Json) -> AnnotatedLLMResponse | None:
    """Best-effort annotation of a provider response: decoded by the one
    built-in codec whose format it has (Chat: ``choices``; Anthropic: a
    ``message`` with ``content`` blocks; Responses: ``output``), else None."""
    return _normalize_response(response)


@runtime_checkable
class LlmCodec(Protocol):
    """A request codec: provider request <-> :class:`AnnotatedLLMRequest`.

    ``encode`` should start from ``original`` and change only what the
    annotated request changed, so provider fields it does not model survive.
    """

    def decode(self, request: LLMRequest) -> AnnotatedLLMRequest:
        """The annotated view of a provider request."""
        ...

    def encode(self, annotated: AnnotatedLLMRequest, original: LLMRequest) -> LLMRequest:
        """``original`` with the edits made to ``annotated``."""
        ...


@runtime_checkable
class LlmResponseCodec(Protocol):
    """A response codec: provider response -> :class:`AnnotatedLLMResponse`.

    It only annotates the end event; what the call returns is unchanged.
    """

    def decode_response(self, response: Json) -> AnnotatedLLMResponse:
        """The annotated view of a provider response."""
        ...
