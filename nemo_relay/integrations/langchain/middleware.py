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

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from langchain.agents.middleware import AgentMiddleware, ExtendedModelResponse, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage

import nemo_relay
from nemo_relay import LLMRequest

from . import _managed
from ._codec import CODEC
from ._kept import Kept
from ._payloads import Json, messages_from_json, messages_to_json, model_name, to_json, tool_names
from ._tool_calls import ToolRejection, arun_tool_call, check_rejection, run_tool_call
from .callbacks import run_parent

if TYPE_CHECKING:
    from langgraph.prebuilt.tool_node import ToolCallRequest

    from ._tool_calls import ToolResult

__all__ = ["NemoRelayMiddleware"]

ModelResult = ModelResponse[Any] | AIMessage | ExtendedModelResponse[Any]


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


class NemoRelayMiddleware(AgentMiddleware):
    """Route a LangChain agent's model and tool calls through nemo_relay."""

    def __init__(self, *, name: str = "NemoRelayMiddleware", tool_rejection: ToolRejection = "message") -> None:
        super().__init__()
        self._name = name
        self._tool_rejection = check_rejection(tool_rejection)

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
        kept = Kept()

        def call(req: LLMRequest) -> Json:
            with _managed.managed("llm"):
                result = handler(apply_model_request(request, sent, req))
            return kept.keep(result, model_result_json(result))

        out = nemo_relay.llm.execute_sync(
            name, LLMRequest({}, sent), call, handle=run_parent(), model_name=name,
            codec=CODEC, response_codec=CODEC,
        )
        return kept.value if kept.matches(out) else model_result_from_json(out)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResult:
        """Run the model call through ``await llm.execute``."""
        name = model_call_name(request)
        sent = model_request_content(request)
        kept = Kept()

        async def call(req: LLMRequest) -> Json:
            with _managed.managed("llm"):
                result = await handler(apply_model_request(request, sent, req))
            return kept.keep(result, model_result_json(result))

        out = await nemo_relay.llm.execute(
            name, LLMRequest({}, sent), call, handle=run_parent(), model_name=name,
            codec=CODEC, response_codec=CODEC,
        )
        return kept.value if kept.matches(out) else model_result_from_json(out)

    # ---- tool calls --------------------------------------------------------------------

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolResult],
    ) -> ToolResult:
        """Run the tool call through ``tools.execute_sync``."""
        return run_tool_call(request, handler, self._tool_rejection)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolResult]],
    ) -> ToolResult:
        """Run the tool call through ``await tools.execute``."""
        return await arun_tool_call(request, handler, self._tool_rejection)
