"""A typed program using the LangChain and LangGraph integrations; checked
with ``mypy --strict`` by tests/test_typing.py, never run."""

from __future__ import annotations

from typing import Annotated, Any, assert_type

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from typing_extensions import TypedDict

from nemo_relay import LLMHandle, ScopeHandle, ToolHandle
from nemo_relay.integrations import langchain as relay_langchain
from nemo_relay.integrations import langgraph as relay_langgraph


@tool
def weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def langchain_agent() -> Any:
    handler = relay_langchain.NemoRelayCallbackHandler()
    middleware = relay_langchain.NemoRelayMiddleware(tool_rejection="raise")
    assert_type(middleware.name, str)
    agent = create_agent(GenericFakeChatModel(messages=iter(["hi"])), [weather], middleware=[middleware])
    result = agent.invoke({"messages": [HumanMessage("Paris")]}, config={"callbacks": [handler]})
    open_runs: int = handler.open_runs
    assert open_runs == 0
    return result


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def langgraph_graph() -> Any:
    model = GenericFakeChatModel(messages=iter(["hi"]))

    def node(state: Chat) -> Chat:
        reply = relay_langgraph.invoke_model(model, state["messages"])
        assert_type(reply, AIMessage)
        parent = relay_langgraph.current_run_scope()
        assert_type(parent, ScopeHandle | LLMHandle | ToolHandle | None)
        return {"messages": [reply]}

    async def anode(state: Chat) -> Chat:
        return {"messages": [await relay_langgraph.ainvoke_model(model, state["messages"])]}

    tools_node: ToolNode = relay_langgraph.managed_tool_node([weather], tool_rejection="message")
    builder = StateGraph(Chat)
    builder.add_node("agent", node)
    builder.add_node("agent_async", anode)
    builder.add_node("tools", tools_node)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    handler: relay_langgraph.NemoRelayCallbackHandler = relay_langgraph.NemoRelayCallbackHandler()
    return builder.compile().invoke({"messages": [HumanMessage("x")]}, config={"callbacks": [handler]})
