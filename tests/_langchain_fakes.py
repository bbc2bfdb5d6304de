"""Fake chat models and small helpers for the LangChain/LangGraph tests (no
network, no keys): LangChain's own GenericFakeChatModel, plus a scripted
model whose answer depends only on its input, so concurrent runs that share
it stay deterministic."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

import nemo_relay


class ToolCallingFakeModel(GenericFakeChatModel):
    """GenericFakeChatModel that accepts bound tools (create_agent binds them)."""

    model_name: str = "fake-model"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self


class ScriptedModel(BaseChatModel):
    """Asks for ``tool`` with ``{"city": <last human message>}`` until a tool
    result arrives, then answers "Answer: <tool result>".  Streams its text
    word by word and its tool call as one tool-call chunk."""

    model_name: str = "scripted-model"
    tool: str = "weather"
    extra_args: dict[str, Any] = {}

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        # the agent's model_settings arrive here; they reach _generate as kwargs
        return self.bind(**kwargs) if kwargs else self

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def reply(self, messages: list[BaseMessage]) -> AIMessage:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return AIMessage(content=f"Answer: {last.content}")
        city = last.content if isinstance(last, HumanMessage) else "nowhere"
        return AIMessage(
            content="",
            tool_calls=[{"name": self.tool, "args": {"city": city, **self.extra_args}, "id": f"call-{city}"}],
        )

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.reply(messages))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        message = self.reply(messages)
        if message.tool_calls:
            call = message.tool_calls[0]
            chunks = [AIMessageChunk(content="", tool_call_chunks=[
                {"name": call["name"], "args": json.dumps(call["args"]), "id": call["id"], "index": 0}])]
            tokens = [""]
        else:
            words = str(message.content).split(" ")
            tokens = [w if i == 0 else " " + w for i, w in enumerate(words)]
            chunks = [AIMessageChunk(content=t) for t in tokens]
        for token, chunk in zip(tokens, chunks):
            gen = ChatGenerationChunk(message=chunk)
            if run_manager:
                run_manager.on_llm_new_token(token, chunk=gen)
            yield gen


# ---- event tree helpers ---------------------------------------------------------------


def starts(events: list[nemo_relay.Event]) -> dict[str, nemo_relay.ScopeEvent]:
    """Scope start events by uuid."""
    return {e.uuid: e for e in events if isinstance(e, nemo_relay.ScopeEvent) and e.scope_category == "start"}


def tree(events: list[nemo_relay.Event], root_uuid: str | None = None) -> list[str]:
    """``category:name`` lines indented by depth, in start order, below
    ``root_uuid`` (or below the first event's parent)."""
    by_uuid = starts(events)
    children: dict[str | None, list[nemo_relay.ScopeEvent]] = {}
    for e in by_uuid.values():
        children.setdefault(e.parent_uuid, []).append(e)
    if root_uuid is None:
        root_uuid = next(iter(by_uuid.values())).parent_uuid
    out: list[str] = []

    def walk(uuid: str | None, depth: int) -> None:
        for child in children.get(uuid, []):
            out.append("  " * depth + f"{child.category}:{child.name}")
            walk(child.uuid, depth + 1)

    walk(root_uuid, 0)
    return out


def ancestors(events: list[nemo_relay.Event], uuid: str | None) -> list[str]:
    """Names of the scopes above ``uuid``, innermost first."""
    by_uuid = starts(events)
    names: list[str] = []
    while uuid in by_uuid:
        names.append(by_uuid[uuid].name)
        uuid = by_uuid[uuid].parent_uuid
    return names


def assert_balanced(events: list[nemo_relay.Event]) -> None:
    """Every scope that started also ended, exactly once."""
    started = [e.uuid for e in events if isinstance(e, nemo_relay.ScopeEvent) and e.scope_category == "start"]
    ended = [e.uuid for e in events if isinstance(e, nemo_relay.ScopeEvent) and e.scope_category == "end"]
    assert sorted(started) == sorted(ended), "a scope started without ending (or ended twice)"
    assert len(set(started)) == len(started)


def end_of(events: list[nemo_relay.Event], start: nemo_relay.Event) -> nemo_relay.ScopeEvent:
    found = [e for e in events
             if isinstance(e, nemo_relay.ScopeEvent) and e.scope_category == "end" and e.uuid == start.uuid]
    assert len(found) == 1
    return found[0]
