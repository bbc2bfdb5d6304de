"""Code written against NeMo Relay's type aliases and helpers, checked with
``mypy --strict`` (never run)."""

from __future__ import annotations

from typing import assert_type

import nemo_relay
from nemo_relay import Json, JsonObject, LLMRequest, ScopeStack, UnsupportedBehavior
from nemo_relay.guardrails import (
    LlmConditionalExecutionGuardrail,
    LlmSanitizeRequestGuardrail,
    LlmSanitizeResponseGuardrail,
    ToolConditionalExecutionGuardrail,
    ToolSanitizeGuardrail,
)
from nemo_relay.intercepts import LlmExecutionIntercept, ToolExecutionIntercept, ToolRequestIntercept
from nemo_relay.utils import run_sync


def hide_key(tool_name: str, args: Json) -> Json:
    return {**args, "api_key": "***"}


def no_deletes(tool_name: str, args: Json) -> str | None:
    return "needs a human" if tool_name.startswith("delete") else None


def strip_headers(request: LLMRequest) -> LLMRequest:
    return LLMRequest({}, request.content)


def trim(response: JsonObject) -> JsonObject:
    return {k: v for k, v in response.items() if k != "debug"}


def allow(request: LLMRequest) -> str | None:
    return None


sanitize: ToolSanitizeGuardrail = hide_key
conditional: ToolConditionalExecutionGuardrail = no_deletes
llm_request: LlmSanitizeRequestGuardrail = strip_headers
llm_response: LlmSanitizeResponseGuardrail = trim
llm_conditional: LlmConditionalExecutionGuardrail = allow
request_intercept: ToolRequestIntercept = hide_key
execution: ToolExecutionIntercept = lambda name, args, next_: next_(args)
llm_execution: LlmExecutionIntercept = lambda name, request, next_: next_(request)
policy: UnsupportedBehavior = "warn"

nemo_relay.guardrails.register_tool_sanitize_request("hide", 0, sanitize)
nemo_relay.intercepts.register_llm_execution("pass", 0, llm_execution)


async def answer() -> int:
    return 42


assert_type(run_sync(answer()), int)
assert_type(nemo_relay.get_scope_stack(), ScopeStack)


# ---- nemo_relay.typed ----------------------------------------------------------------

import dataclasses  # noqa: E402

from nemo_relay import typed  # noqa: E402


@dataclasses.dataclass
class SearchArgs:
    query: str


@dataclasses.dataclass
class SearchResult:
    hits: list[str]


async def search(args: SearchArgs) -> SearchResult:
    return SearchResult([args.query])


def search_sync(args: SearchArgs) -> SearchResult:
    return SearchResult([args.query])


async def typed_calls() -> None:
    result = await typed.tool_execute(
        "search", SearchArgs("q"), search, typed.DataclassCodec(SearchArgs), typed.DataclassCodec(SearchResult)
    )
    assert_type(result, SearchResult)
    assert_type(await typed.tool_execute("search", SearchArgs("q"), search_sync), SearchResult)
    response = await typed.llm_execute("m", LLMRequest({}, "hi"), lambda r: SearchResult([]),
                                       typed.DataclassCodec(SearchResult))
    assert_type(response, SearchResult)
    codec: typed.Codec[SearchArgs] = typed.codec_for(SearchArgs)
    assert_type(codec.from_json({"query": "q"}), SearchArgs)
    try:
        typed.codec_for(list[int]).from_json(["x"])
    except typed.ConversionError as error:
        print(error.path, error.expected, error.context)
