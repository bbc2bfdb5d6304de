"""The LangGraph integration: graph and node runs as scopes, model and tool
calls as managed calls, with invoke, ainvoke and astream; parallel branches
keep their own parents.  Real LangGraph graphs, fake chat models."""

from __future__ import annotations

import asyncio
import operator
import threading
from typing import Annotated, Any

import pytest

pytest.importorskip("langgraph", reason="needs the 'langgraph' extra")

from _langchain_fakes import ScriptedModel, ancestors, assert_balanced, end_of, tree  # noqa: E402
from langchain_core.messages import AnyMessage, HumanMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402
from langgraph.graph.message import add_messages  # noqa: E402
from typing_extensions import TypedDict  # noqa: E402

from nemo_relay import ScopeType, guardrails, scope, tools  # noqa: E402
from nemo_relay.integrations.langgraph import (  # noqa: E402
    NemoRelayCallbackHandler,
    ainvoke_model,
    current_run_scope,
    invoke_model,
    managed_tool_node,
)


class Counter(TypedDict):
    value: int


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def counter_graph(use_async: bool) -> Any:
    def increment(state: Counter) -> Counter:
        return {"value": state["value"] + 1}

    async def aincrement(state: Counter) -> Counter:
        return {"value": state["value"] + 1}

    builder = StateGraph(Counter)
    builder.add_node("increment", aincrement if use_async else increment)
    builder.add_edge(START, "increment")
    builder.add_edge("increment", END)
    return builder.compile()


def names(events: Any) -> list[str]:
    return [f"{e.kind}.{getattr(e, 'scope_category', '')}.{e.name}".replace("..", ".") for e in events.events]


def test_sync_invoke_records_graph_and_node_scopes(events):
    handler = NemoRelayCallbackHandler()
    with scope.scope("request", ScopeType.Agent):
        result = counter_graph(False).invoke({"value": 1}, config={"callbacks": [handler]})

    assert result == {"value": 2}
    assert names(events) == [
        "scope.start.request",
        "scope.start.LangGraph",
        "scope.start.increment",
        "scope.end.increment",
        "scope.end.LangGraph",
        "scope.end.request",
    ]
    graph = events.one("LangGraph", "start")
    node = events.one("increment", "start")
    assert (graph.category, node.category) == ("agent", "function")
    assert node.parent_uuid == graph.uuid
    assert graph.parent_uuid == events.one("request", "start").uuid
    assert node.metadata["langgraph_node"] == "increment"
    assert end_of(events.events, graph).data == {"value": 2}
    assert handler.open_runs == 0


async def test_ainvoke_records_graph_and_node_scopes(events):
    handler = NemoRelayCallbackHandler()
    before = scope.get_handle()
    with scope.scope("request", ScopeType.Agent):
        result = await counter_graph(True).ainvoke({"value": 1}, config={"callbacks": [handler]})

    assert result == {"value": 2}
    assert names(events) == [
        "scope.start.request",
        "scope.start.LangGraph",
        "scope.start.increment",
        "scope.end.increment",
        "scope.end.LangGraph",
        "scope.end.request",
    ]
    assert handler.open_runs == 0
    assert scope.get_handle() == before


def agent_graph(use_async: bool, calls: list[str]) -> Any:
    """model -> tools -> model, with the model called through invoke_model /
    ainvoke_model and the tools through managed_tool_node."""
    model = ScriptedModel()

    @tool
    def weather(city: str) -> str:
        """Weather for a city."""
        calls.append(city)
        return f"sunny in {city}"

    def call_model(state: Chat) -> Chat:
        return {"messages": [invoke_model(model, state["messages"])]}

    async def acall_model(state: Chat) -> Chat:
        return {"messages": [await ainvoke_model(model, state["messages"])]}

    def route(state: Chat) -> str:
        last = state["messages"][-1]
        return "tools" if getattr(last, "tool_calls", None) else END

    builder = StateGraph(Chat)
    builder.add_node("agent", acall_model if use_async else call_model)
    builder.add_node("tools", managed_tool_node([weather]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route, ["tools", END])
    builder.add_edge("tools", "agent")
    return builder.compile()


# the conditional edge's function is a run of its own, inside the node
EXPECTED_AGENT_TREE = [
    "agent:LangGraph",
    "  function:agent",
    "    llm:scripted-model",
    "    function:route",
    "  function:tools",
    "    tool:weather",
    "  function:agent",
    "    llm:scripted-model",
    "    function:route",
]


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
def test_model_and_tool_calls_are_managed_calls_under_their_nodes(events, mode):
    calls: list[str] = []
    graph = agent_graph(mode.startswith("a"), calls)
    handler = NemoRelayCallbackHandler()
    config: Any = {"callbacks": [handler]}
    request = {"messages": [HumanMessage("Lisbon")]}
    before = scope.get_handle()

    if mode == "invoke":
        final = graph.invoke(request, config=config)["messages"][-1].content
    elif mode == "ainvoke":
        final = asyncio.run(graph.ainvoke(request, config=config))["messages"][-1].content
    elif mode == "stream":
        streamed = list(graph.stream(request, config=config, stream_mode="messages"))
        final = "".join(str(message.content) for message, meta in streamed if meta["langgraph_node"] == "agent")
    else:
        async def stream() -> list[Any]:
            return [chunk async for chunk in graph.astream(request, config=config, stream_mode="messages")]
        streamed = asyncio.run(stream())
        final = "".join(str(message.content) for message, meta in streamed if meta["langgraph_node"] == "agent")

    assert final == "Answer: sunny in Lisbon"
    assert calls == ["Lisbon"]
    assert tree(events.events, before.uuid) == EXPECTED_AGENT_TREE
    assert_balanced(events.events)
    # managed calls: recorded by the pipeline, not again by the handler
    assert len(events.named("scripted-model", "start")) == 2
    assert "langchain_run_id" not in (events.named("scripted-model", "start")[0].metadata or {})
    if mode.endswith("stream"):
        marks = [e for e in events.events if e.kind == "mark" and e.name == "llm.chunk"]
        text = "".join(m.data["token"] for m in marks)
        assert text == "Answer: sunny in Lisbon"
        agent_nodes = {e.uuid for e in events.named("agent", "start")}
        assert {m.parent_uuid for m in marks} <= agent_nodes
    assert handler.open_runs == 0
    assert scope.get_handle() == before


def test_a_guardrail_blocks_a_tool_of_a_managed_tool_node(events, registered):
    calls: list[str] = []
    graph = agent_graph(False, calls)
    registered(guardrails, "tool_conditional_execution", "no-weather", 0, lambda name, args: "weather is secret")

    result = graph.invoke({"messages": [HumanMessage("Lisbon")]})

    assert calls == []
    assert result["messages"][-1].content == "Answer: Tool call rejected by a guardrail: weather is secret"


class Fanout(TypedDict):
    results: Annotated[list[str], operator.add]


def fanout_graph(use_async: bool) -> Any:
    """START -> left, right (in parallel) -> END; each branch waits until the
    other has started, so they really overlap, then runs a managed tool call."""
    if use_async:
        started = {"left": asyncio.Event(), "right": asyncio.Event()}

        def abranch(me: str, other: str) -> Any:
            async def node(state: Fanout) -> Fanout:
                started[me].set()
                await asyncio.wait_for(started[other].wait(), timeout=30)
                out = await tools.execute(f"lookup-{me}", {"branch": me}, lambda args: args["branch"],
                                          handle=current_run_scope())  # type: ignore[arg-type]
                return {"results": [out]}
            return node

        left, right = abranch("left", "right"), abranch("right", "left")
    else:
        barrier = threading.Barrier(2, timeout=30)

        def branch(me: str) -> Any:
            def node(state: Fanout) -> Fanout:
                barrier.wait()
                out = tools.execute_sync(f"lookup-{me}", {"branch": me}, lambda args: args["branch"],
                                         handle=current_run_scope())  # type: ignore[arg-type]
                return {"results": [out]}
            return node

        left, right = branch("left"), branch("right")

    builder = StateGraph(Fanout)
    builder.add_node("left", left)
    builder.add_node("right", right)
    builder.add_edge(START, "left")
    builder.add_edge(START, "right")
    builder.add_edge("left", END)
    builder.add_edge("right", END)
    return builder.compile()


@pytest.mark.parametrize("use_async", [False, True])
def test_parallel_branches_keep_their_own_parents(events, use_async):
    handler = NemoRelayCallbackHandler()
    graph = fanout_graph(use_async)
    config: Any = {"callbacks": [handler]}

    if use_async:
        result = asyncio.run(graph.ainvoke({"results": []}, config=config))
    else:
        result = graph.invoke({"results": []}, config=config)

    assert sorted(result["results"]) == ["left", "right"]
    graph_start = events.one("LangGraph", "start")
    for side in ("left", "right"):
        node = events.one(side, "start")
        call = events.one(f"lookup-{side}", "start")
        assert node.parent_uuid == graph_start.uuid
        assert call.parent_uuid == node.uuid
    assert_balanced(events.events)
    assert handler.open_runs == 0


async def test_concurrent_graph_runs_do_not_mix_scopes(events):
    handler = NemoRelayCallbackHandler()
    calls: list[str] = []
    graph = agent_graph(True, calls)
    cities = [f"town{i}" for i in range(6)]

    async def one(city: str) -> None:
        with scope.scope(f"request-{city}", ScopeType.Agent):
            await graph.ainvoke({"messages": [HumanMessage(city)]}, config={"callbacks": [handler]})

    await asyncio.gather(*(one(c) for c in cities))

    assert sorted(calls) == sorted(cities)
    for start in events.named("weather", "start"):
        assert ancestors(events.events, start.parent_uuid) == ["tools", "LangGraph", f"request-{start.data['city']}"]
    assert_balanced(events.events)
    assert handler.open_runs == 0


def test_interrupt_and_resume_are_marks_under_the_graph(events):
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command, interrupt

    class Approval(TypedDict):
        answer: str

    def ask(state: Approval) -> Approval:
        return {"answer": interrupt("approve the transfer?")}

    builder = StateGraph(Approval)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    handler = NemoRelayCallbackHandler()
    config: Any = {"callbacks": [handler], "configurable": {"thread_id": "t1"}}

    first = graph.invoke({"answer": ""}, config=config)
    assert first["__interrupt__"][0].value == "approve the transfer?"
    second = graph.invoke(Command(resume="yes"), config=config)
    assert second == {"answer": "yes"}

    interrupt_mark = events.one("Graph Interrupt")
    resume_mark = events.one("Graph Resume")
    graphs = events.named("LangGraph", "start")
    assert len(graphs) == 2
    assert interrupt_mark.parent_uuid == graphs[0].uuid
    assert resume_mark.parent_uuid == graphs[1].uuid
    assert interrupt_mark.data["interrupts"][0]["value"] == "approve the transfer?"
    assert interrupt_mark.metadata == {"integration": "langgraph"}
    # the interrupted node paused: not an error
    first_ask = events.named("ask", "start")[0]
    assert end_of(events.events, first_ask).metadata["otel.status_code"] == "UNSET"
    assert_balanced(events.events)
    assert handler.open_runs == 0


async def test_a_cancelled_run_ends_its_scopes_unset(events):
    started = asyncio.Event()
    never = asyncio.Event()

    async def wait_forever(state: Counter) -> Counter:
        started.set()
        await never.wait()
        return state

    builder = StateGraph(Counter)
    builder.add_node("waiting", wait_forever)
    builder.add_edge(START, "waiting")
    builder.add_edge("waiting", END)
    handler = NemoRelayCallbackHandler()
    before = scope.get_handle()

    task = asyncio.create_task(builder.compile().ainvoke({"value": 0}, config={"callbacks": [handler]}))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert_balanced(events.events)
    for name in ("waiting", "LangGraph"):
        assert end_of(events.events, events.one(name, "start")).metadata["otel.status_code"] == "UNSET"
    assert handler.open_runs == 0
    assert scope.get_handle() == before


async def test_a_custom_event_is_a_mark_under_its_node(events):
    from langchain_core.callbacks import adispatch_custom_event

    async def report(state: Counter) -> Counter:
        await adispatch_custom_event("progress", {"done": 0.5})
        return {"value": state["value"] + 1}

    builder = StateGraph(Counter)
    builder.add_node("report", report)
    builder.add_edge(START, "report")
    builder.add_edge("report", END)
    handler = NemoRelayCallbackHandler()

    await builder.compile().ainvoke({"value": 0}, config={"callbacks": [handler]})

    mark = events.one("progress")
    assert mark.data == {"done": 0.5}
    assert mark.parent_uuid == events.one("report", "start").uuid
    assert handler.open_runs == 0
