"""Tool calls of a LangGraph ``ToolNode`` (and so of a LangChain agent)
through ``tools.execute``: the wrappers ``ToolNode(wrap_tool_call=...,
awrap_tool_call=...)`` and ``AgentMiddleware`` share.

Needs only langchain-core and LangGraph's prebuilt ``ToolNode``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import ToolMessage, messages_from_dict

import nemo_relay
from nemo_relay import errors

from . import _managed
from ._kept import Kept
from ._payloads import Json, to_json
from .callbacks import run_parent

if TYPE_CHECKING:
    from typing import TypeAlias

    from langgraph.prebuilt.tool_node import ToolCallRequest
    from langgraph.types import Command

    ToolResult: TypeAlias = ToolMessage | Command[Any]

#: What a rejected tool call gives the agent: an error ToolMessage carrying the
#: guardrail's reason (the model can react), or the GuardrailRejected raised.
ToolRejection = Literal["message", "raise"]


def check_rejection(value: str) -> ToolRejection:
    if value == "message":
        return "message"
    if value == "raise":
        return "raise"
    raise ValueError(f"tool_rejection must be 'message' or 'raise', not {value!r}")


def tool_result_from_json(value: Json, request: ToolCallRequest) -> ToolResult:
    """A tool result an execution intercept produced, as a ``ToolMessage``:
    a message dict as that message, a string as the content, anything else
    as its JSON text."""
    call = request.tool_call
    if isinstance(value, dict) and isinstance(value.get("type"), str) and isinstance(value.get("data"), dict):
        message = messages_from_dict([value])[0]
        if isinstance(message, ToolMessage):
            return message
    content = value if isinstance(value, str) else json.dumps(value)
    return ToolMessage(content=content, tool_call_id=call.get("id") or "", name=call["name"])


def _rejected(request: ToolCallRequest, error: errors.GuardrailRejected, rejection: ToolRejection) -> ToolMessage:
    if rejection == "raise":
        raise error
    call = request.tool_call
    return ToolMessage(
        content=f"Tool call rejected by a guardrail: {error.reason}",
        tool_call_id=call.get("id") or "",
        name=call["name"],
        status="error",
    )


def _with_args(request: ToolCallRequest, original: Json, args: Json) -> ToolCallRequest:
    if args == original:
        return request
    if not isinstance(args, dict):
        raise TypeError(f"a LangChain tool call's args must stay a JSON object, not {type(args).__name__}")
    return request.override(tool_call={**request.tool_call, "args": args})


def run_tool_call(
    request: ToolCallRequest,
    handler: Callable[[ToolCallRequest], ToolResult],
    rejection: ToolRejection = "message",
) -> ToolResult:
    """Run one tool call through ``tools.execute_sync``."""
    call = request.tool_call
    args = to_json(call.get("args") or {})
    kept = Kept()

    def run(new_args: Json) -> Json:
        with _managed.managed("tool"):
            result = handler(_with_args(request, args, new_args))
        return kept.keep(result, to_json(result))

    try:
        out = nemo_relay.tools.execute_sync(
            call["name"], args, run, handle=run_parent(), tool_call_id=call.get("id")
        )
    except errors.GuardrailRejected as e:
        return _rejected(request, e, rejection)
    return kept.value if kept.matches(out) else tool_result_from_json(out, request)


async def arun_tool_call(
    request: ToolCallRequest,
    handler: Callable[[ToolCallRequest], Awaitable[ToolResult]],
    rejection: ToolRejection = "message",
) -> ToolResult:
    """Run one tool call through ``await tools.execute``."""
    call = request.tool_call
    args = to_json(call.get("args") or {})
    kept = Kept()

    async def run(new_args: Json) -> Json:
        with _managed.managed("tool"):
            result = await handler(_with_args(request, args, new_args))
        return kept.keep(result, to_json(result))

    try:
        out = await nemo_relay.tools.execute(
            call["name"], args, run, handle=run_parent(), tool_call_id=call.get("id")
        )
    except errors.GuardrailRejected as e:
        return _rejected(request, e, rejection)
    return kept.value if kept.matches(out) else tool_result_from_json(out, request)
