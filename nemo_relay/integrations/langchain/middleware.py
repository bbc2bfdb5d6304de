"""LangChain 1.x agent middleware that routes model and tool calls through
``llm.execute`` / ``tools.execute``.

``create_agent(model, tools, middleware=[NemoRelayMiddleware()])``: every
model call of the agent becomes a managed LLM call and every tool call a
managed tool call, so registered guardrails, intercepts, sanitizers and
native plugins apply to them:

- a conditional tool guardrail that rejects a call stops the tool from
  running; the model gets an error ``ToolMessage`` with the reason (or the
  agent raises ``GuardrailRejected`` with ``tool_rejection="raise"``);
- a tool request intercept that rewrites the args changes what the tool gets;
- an LLM request intercept that edits the request's ``messages`` (LangChain's
  message dicts), ``tool_choice`` or ``model_settings`` changes what the model
  gets; headers it adds go to ``model_settings["extra_headers"]``;
- an execution intercept may replace the result; a model result in the same
  shape (``{"messages": [...]}``) or a tool result (a message dict or a
  string) is turned back into LangChain objects.

Sync agents (``invoke``) use the sync pipeline (``execute_sync``), async ones
(``ainvoke``/``astream``) the async one.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from langchain.agents.middleware import AgentMiddleware, ExtendedModelResponse, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage, messages_from_dict

import nemo_relay
from nemo_relay import LLMRequest, errors

from . import _managed
from .callbacks import current_run_scope
from ._payloads import Json, messages_from_json, messages_to_json, model_name, to_json, tool_names

if TYPE_CHECKING:
    from typing import TypeAlias

    from langgraph.prebuilt.tool_node import ToolCallRequest
    from langgraph.types import Command

    ToolResult: TypeAlias = ToolMessage | Command[Any]

__all__ = ["NemoRelayMiddleware"]

ModelResult = ModelResponse[Any] | AIMessage | ExtendedModelResponse[Any]
ToolRejection = Literal["message", "raise"]


# ---- model calls ------------------------------------------------------------------------


def model_call_name(request: ModelRequest[Any]) -> str:
    """The managed call's name: the model's name, else its class name."""
    return model_name(request.model) or type(request.model).__name__


def model_request_content(request: ModelRequest[Any]) -> dict[str, Json]:
    """The LLM request content for a LangChain model request."""
    messages: list[BaseMessage] = []
    if request.system_message is not None:
        messages.append(request.system_message)
    messages.extend(request.messages)
    content: dict[str, Json] = {"messages": messages_to_json(messages), "model": model_call_name(request)}
    if request.tools:
        content["tools"] = tool_names(request.tools)
    if request.tool_choice is not None:
        content["tool_choice"] = to_json(request.tool_choice)
    if request.model_settings:
        content["model_settings"] = to_json(request.model_settings)
    return content


def apply_model_request(original: ModelRequest[Any], sent: dict[str, Json], req: LLMRequest) -> ModelRequest[Any]:
    """``original`` with the edits request intercepts made to ``sent``."""
    content = req.content
    headers = req.headers
    if content == sent and not headers:
        return original
    if not isinstance(content, dict):
        raise TypeError(f"a LangChain model request must stay a JSON object, not {type(content).__name__}")
    overrides: dict[str, Any] = {}
    if content.get("messages") != sent.get("messages"):
        messages = messages_from_json(content.get("messages"))
        if messages and isinstance(messages[0], SystemMessage):
            overrides["system_message"] = messages[0]
            messages = messages[1:]
        else:
            overrides["system_message"] = None
        overrides["messages"] = messages
    if content.get("tool_choice") != sent.get("tool_choice"):
        overrides["tool_choice"] = content.get("tool_choice")
    settings = content.get("model_settings")
    if settings != sent.get("model_settings") or headers:
        settings = dict(settings) if isinstance(settings, dict) else {}
        if headers:
            extra = settings.get("extra_headers")
            settings["extra_headers"] = {**(extra if isinstance(extra, dict) else {}), **headers}
        overrides["model_settings"] = settings
    return original.override(**overrides) if overrides else original


def model_result_json(result: ModelResult) -> dict[str, Json]:
    """A model call's result as recorded: its messages (and structured response)."""
    if isinstance(result, ExtendedModelResponse):
        out = model_result_json(result.model_response)
        if result.command is not None:
            out["command"] = to_json(result.command)
        return out
    if isinstance(result, AIMessage):
        return {"messages": messages_to_json([result])}
    out = {"messages": messages_to_json(result.result)}
    if result.structured_response is not None:
        out["structured_response"] = to_json(result.structured_response)
    return out


def model_result_from_json(value: Json) -> ModelResponse[Any]:
    """A model result an execution intercept produced, as a ``ModelResponse``."""
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        return ModelResponse(result=messages_from_json(value["messages"]),
                             structured_response=value.get("structured_response"))
    if isinstance(value, str):
        return ModelResponse(result=[AIMessage(content=value)])
    raise TypeError(
        "a LangChain model call's result must be {'messages': [message dicts]} or a string, "
        f"not {type(value).__name__}"
    )


# ---- tool calls ------------------------------------------------------------------------


def tool_result_json(result: ToolResult) -> Json:
    """A tool call's result as recorded: the ToolMessage's dict, or the Command."""
    return to_json(result)


def tool_result_from_json(value: Json, request: ToolCallRequest) -> ToolResult:
    """A tool result an execution intercept produced, as a ``ToolMessage``."""
    call = request.tool_call
    if isinstance(value, dict) and isinstance(value.get("type"), str) and isinstance(value.get("data"), dict):
        message = messages_from_dict([value])[0]
        if isinstance(message, ToolMessage):
            return message
    content = value if isinstance(value, str) else json.dumps(value)
    return ToolMessage(content=content, tool_call_id=call.get("id") or "", name=call["name"])


class _Kept:
    """The last result the function produced, with its JSON: when the
    pipeline hands back that same JSON the original object is returned, so
    Python-only parts (structured responses, artifacts) survive."""

    __slots__ = ("json", "value", "set")

    def __init__(self) -> None:
        self.set = False
        self.json: Json = None
        self.value: Any = None

    def keep(self, value: Any, as_json: Json) -> Json:
        self.set, self.value, self.json = True, value, as_json
        return as_json

    def matches(self, out: Json) -> bool:
        return self.set and out == self.json


class NemoRelayMiddleware(AgentMiddleware):  # type: ignore[type-arg]
    """Route a LangChain agent's model and tool calls through nemo_relay."""

    def __init__(self, *, name: str = "NemoRelayMiddleware", tool_rejection: ToolRejection = "message") -> None:
        super().__init__()
        if tool_rejection not in ("message", "raise"):
            raise ValueError(f"tool_rejection must be 'message' or 'raise', not {tool_rejection!r}")
        self._name = name
        self._tool_rejection: ToolRejection = tool_rejection

    @property
    def name(self) -> str:
        """The middleware's name in the agent's graph."""
        return self._name

    # ---- model calls -------------------------------------------------------------------

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResult:
        """Run the model call through ``llm.execute_sync``."""
        name = model_call_name(request)
        sent = model_request_content(request)
        kept = _Kept()

        def call(req: LLMRequest) -> Json:
            with _managed.managed("llm"):
                result = handler(apply_model_request(request, sent, req))
            return kept.keep(result, model_result_json(result))

        out = nemo_relay.llm.execute_sync(
            name, LLMRequest({}, sent), call, handle=current_run_scope(), model_name=name  # type: ignore[arg-type]
        )
        return kept.value if kept.matches(out) else model_result_from_json(out)  # type: ignore[no-any-return]

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResult:
        """Run the model call through ``await llm.execute``."""
        name = model_call_name(request)
        sent = model_request_content(request)
        kept = _Kept()

        async def call(req: LLMRequest) -> Json:
            with _managed.managed("llm"):
                result = await handler(apply_model_request(request, sent, req))
            return kept.keep(result, model_result_json(result))

        out = await nemo_relay.llm.execute(
            name, LLMRequest({}, sent), call, handle=current_run_scope(), model_name=name  # type: ignore[arg-type]
        )
        return kept.value if kept.matches(out) else model_result_from_json(out)  # type: ignore[no-any-return]

    # ---- tool calls --------------------------------------------------------------------

    def _rejected(self, request: ToolCallRequest, error: errors.GuardrailRejected) -> ToolMessage:
        if self._tool_rejection == "raise":
            raise error
        call = request.tool_call
        return ToolMessage(
            content=f"Tool call rejected by a guardrail: {error.reason}",
            tool_call_id=call.get("id") or "",
            name=call["name"],
            status="error",
        )

    @staticmethod
    def _with_args(request: ToolCallRequest, original: Json, args: Json) -> ToolCallRequest:
        if args == original:
            return request
        if not isinstance(args, dict):
            raise TypeError(f"a LangChain tool call's args must stay a JSON object, not {type(args).__name__}")
        return request.override(tool_call={**request.tool_call, "args": args})

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolResult],
    ) -> ToolResult:
        """Run the tool call through ``tools.execute_sync``."""
        call = request.tool_call
        args = to_json(call.get("args") or {})
        kept = _Kept()

        def run(new_args: Json) -> Json:
            with _managed.managed("tool"):
                result = handler(self._with_args(request, args, new_args))
            return kept.keep(result, tool_result_json(result))

        try:
            out = nemo_relay.tools.execute_sync(
                call["name"], args, run, handle=current_run_scope(), tool_call_id=call.get("id")  # type: ignore[arg-type]
            )
        except errors.GuardrailRejected as e:
            return self._rejected(request, e)
        return kept.value if kept.matches(out) else tool_result_from_json(out, request)  # type: ignore[no-any-return]

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolResult]],
    ) -> ToolResult:
        """Run the tool call through ``await tools.execute``."""
        call = request.tool_call
        args = to_json(call.get("args") or {})
        kept = _Kept()

        async def run(new_args: Json) -> Json:
            with _managed.managed("tool"):
                result = await handler(self._with_args(request, args, new_args))
            return kept.keep(result, tool_result_json(result))

        try:
            out = await nemo_relay.tools.execute(
                call["name"], args, run, handle=current_run_scope(), tool_call_id=call.get("id")  # type: ignore[arg-type]
            )
        except errors.GuardrailRejected as e:
            return self._rejected(request, e)
        return kept.value if kept.matches(out) else tool_result_from_json(out, request)  # type: ignore[no-any-return]
