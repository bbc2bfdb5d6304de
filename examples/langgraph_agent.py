"""A small LangGraph agent recorded by nemo_relay: a fake chat model asks for
two tool calls, a guardrail rejects one, the bundled ``redact`` plugin keeps an API
key out of the record, and ``AtofExporter`` writes every event as an ATOF JSON
line.  Prints the event tree.

    pip install '.[langgraph]'      # or ./dev test, which installs every extra
    python examples/langgraph_agent.py [events.jsonl]

No network and no API keys: the model is LangChain's GenericFakeChatModel.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from typing import Annotated, Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

import nemo_relay
from nemo_relay import AtofExporter, AtofExporterConfig, AtofExporterMode, guardrails, plugin, subscribers
from nemo_relay.integrations.langgraph import NemoRelayCallbackHandler, ainvoke_model, managed_tool_node
from nemo_relay.plugins import manifest


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


@tool
def weather(city: str, api_key: str) -> str:
    """Today's weather for a city."""
    return f"18°C and sunny in {city}"


@tool
def delete_files(path: str) -> str:
    """Delete files under a path."""
    raise AssertionError("the guardrail stops this before it runs")


# The model asks for both tools at once, then answers from their results.
model = GenericFakeChatModel(messages=iter([
    AIMessage(content="", tool_calls=[
        {"name": "weather", "args": {"city": "Paris", "api_key": "sk-live-123"}, "id": "call-weather"},
        {"name": "delete_files", "args": {"path": "/"}, "id": "call-delete"},
    ]),
    AIMessage(content="It is 18°C and sunny in Paris; I was not allowed to delete files."),
]))


async def agent(state: State) -> State:
    return {"messages": [await ainvoke_model(model, state["messages"])]}


def route(state: State) -> str:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else END


def build() -> Any:
    graph = StateGraph(State)
    graph.add_node("agent", agent)
    graph.add_node("tools", managed_tool_node([weather, delete_files]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile()


def no_deletes(tool_name: str, args: Any) -> str | None:
    return "deleting files needs a human" if tool_name == "delete_files" else None


def scrub(value: Any) -> Any:
    """The handler's own sanitizer: the same secrets out of graph and node payloads."""
    if isinstance(value, str):
        return re.sub(r"sk-live-\w+", "[REDACTED]", value)
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def print_tree(events: list[nemo_relay.Event]) -> None:
    depth: dict[str | None, int] = {}
    for e in events:
        if isinstance(e, nemo_relay.ScopeEvent) and e.scope_category == "start":
            depth[e.uuid] = depth.get(e.parent_uuid, -1) + 1
            print("  " * depth[e.uuid] + f"{e.category}: {e.name}")
        elif isinstance(e, nemo_relay.MarkEvent):
            print("  " * (depth.get(e.parent_uuid, -1) + 1) + f"mark: {e.name}")


async def main(output: str) -> None:
    events: list[nemo_relay.Event] = []
    config = AtofExporterConfig()
    config.output_directory, config.filename = os.path.split(output)
    config.mode = AtofExporterMode.Overwrite
    exporter = AtofExporter(config)
    exporter.register("atof")
    subscribers.register("tree", events.append)
    guardrails.register_tool_conditional_execution("no-deletes", 0, no_deletes)
    # redact keeps the key out of every recorded tool and LLM payload
    specs = [plugin.DynamicPluginActivationSpec("redact", "native", manifest("redact"),
                                                config={"keys": ["api_key"], "patterns": ["sk-live-\\w+"]})]
    try:
        async with await plugin.initialize_with_dynamic_plugins(None, specs):
            result = await build().ainvoke({"messages": [HumanMessage("What's the weather in Paris?")]},
                                           config={"callbacks": [NemoRelayCallbackHandler(sanitize=scrub)]})
    finally:
        guardrails.deregister_tool_conditional_execution("no-deletes")
        subscribers.deregister("tree")
        exporter.shutdown()  # deregisters, writes out what is queued, closes
    print_tree(events)
    print(f"answer: {result['messages'][-1].content}")
    print(f"{len(events)} events written to {exporter.path}")


if __name__ == "__main__":
    asyncio.run(main(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "langgraph-agent.jsonl")))
