"""Managed model and tool calls for your own LangGraph graphs.

``managed_tool_node(tools)`` is a ``ToolNode`` whose tool calls run through
``tools.execute``; ``invoke_model`` / ``ainvoke_model`` call a chat model
through ``llm.execute`` from inside a node.  Both parent their call under the
node's scope when a ``NemoRelayCallbackHandler`` is attached to the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.prebuilt import ToolNode

import nemo_relay
from nemo_relay import LLMRequest

from ..langchain import _managed
from ..langchain._codec import CODEC
from ..langchain._kept import Kept
from ..langchain._payloads import Json, messages_from_json, messages_to_json, model_name
from ..langchain._tool_calls import ToolRejection, arun_tool_call, check_rejection, run_tool_call
from ..langchain.callbacks import run_parent

__all__ = ["ainvoke_model", "invoke_model", "managed_tool_node"]

ChatModel = Runnable[LanguageModelInput, AIMessage]


def managed_tool_node(
    tools: Sequence[BaseTool | Any],
    *,
    tool_rejection: ToolRejection = "message",
    **kwargs: Any,
) -> ToolNode:
    """A ``ToolNode`` for ``tools`` whose every tool call goes through
    ``tools.execute``.  A guardrail's rejection becomes an error ToolMessage
    (``tool_rejection="raise"``: ``GuardrailRejected`` is raised).  Other
    keyword arguments go to ``ToolNode``."""
    rejection = check_rejection(tool_rejection)
    return ToolNode(
        tools,
        wrap_tool_call=lambda request, handler: run_tool_call(request, handler, rejection),
        awrap_tool_call=lambda request, handler: arun_tool_call(request, handler, rejection),
        **kwargs,
    )


def _call_name(model: ChatModel) -> str:
    # a model with bound tools is a RunnableBinding around the model
    inner = getattr(model, "bound", model)
    return model_name(model) or model_name(inner) or type(inner).__name__


def _prepare(model: ChatModel, messages: Sequence[BaseMessage]) -> tuple[str, dict[str, Json]]:
    name = _call_name(model)
    return name, {"messages": messages_to_json(list(messages)), "model": name}


def _messages_for(messages: Sequence[BaseMessage], sent: dict[str, Json], req: LLMRequest) -> list[BaseMessage]:
    content = req.content
    if content == sent:
        return list(messages)
    if not isinstance(content, dict):
        raise TypeError(f"a LangChain model request must stay a JSON object, not {type(content).__name__}")
    return messages_from_json(content.get("messages"))


def _result(kept: Kept, out: Json) -> AIMessage:
    if kept.matches(out):
        return kept.value  # type: ignore[no-any-return]
    if isinstance(out, dict) and isinstance(out.get("messages"), list) and out["messages"]:
        message = messages_from_json(out["messages"])[-1]
        if isinstance(message, AIMessage):
            return message
        return AIMessage(content=message.content)
    if isinstance(out, str):
        return AIMessage(content=out)
    raise TypeError(f"a model call's result must be {{'messages': [message dicts]}} or a string, not {out!r:.80}")


def invoke_model(
    model: ChatModel, messages: Sequence[BaseMessage], config: RunnableConfig | None = None, **kwargs: Any
) -> AIMessage:
    """``model.invoke(messages, config, **kwargs)`` as a managed LLM call
    (``llm.execute_sync``): request intercepts may edit the ``messages``
    (LangChain's message dicts), execution intercepts may replace the result."""
    name, sent = _prepare(model, messages)
    kept = Kept()

    def call(req: LLMRequest) -> Json:
        use = _messages_for(messages, sent, req)
        with _managed.managed("llm"):
            result = model.invoke(use, config, **kwargs)
        return kept.keep(result, {"messages": messages_to_json([result])})

    out = nemo_relay.llm.execute_sync(
        name, LLMRequest({}, sent), call, handle=run_parent(), model_name=name,
        codec=CODEC, response_codec=CODEC,
    )
    return _result(kept, out)


async def ainvoke_model(
    model: ChatModel, messages: Sequence[BaseMessage], config: RunnableConfig | None = None, **kwargs: Any
) -> AIMessage:
    """``await model.ainvoke(messages, config, **kwargs)`` as a managed LLM
    call (``await llm.execute``)."""
    name, sent = _prepare(model, messages)
    kept = Kept()

    async def call(req: LLMRequest) -> Json:
        use = _messages_for(messages, sent, req)
        with _managed.managed("llm"):
            result = await model.ainvoke(use, config, **kwargs)
        return kept.keep(result, {"messages": messages_to_json([result])})

    out = await nemo_relay.llm.execute(
        name, LLMRequest({}, sent), call, handle=run_parent(), model_name=name,
        codec=CODEC, response_codec=CODEC,
    )
    return _result(kept, out)
