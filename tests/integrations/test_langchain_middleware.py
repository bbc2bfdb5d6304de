"""NemoRelayMiddleware: a LangChain 1.x agent's model and tool calls run
through llm.execute / tools.execute, so guardrails, intercepts and sanitizers
apply to them.  Real create_agent, fake chat models, no network."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

pytest.importorskip("langchain", reason="needs the 'langchain' extra")

from _langchain_fakes import ScriptedModel, ToolCallingFakeModel, ancestors, assert_balanced, end_of, tree  # noqa: E402
from langchain.agents import create_agent  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402

from nemo_relay import LLMRequest, ScopeType, errors, guardrails, intercepts, scope  # noqa: E402
from nemo_relay.integrations.langchain import NemoRelayCallbackHandler, NemoRelayMiddleware  # noqa: E402


def run(agent: Any, text: str, use_async: bool, config: dict[str, Any] | None = None) -> dict[str, Any]:
    request = {"messages": [HumanMessage(text)]}
    if use_async:
        return asyncio.run(agent.ainvoke(request, config=config))  # type: ignore[no-any-return]
    return agent.invoke(request, config=config)  # type: ignore[no-any-return]


def weather_agent(calls: list[dict[str, Any]], **model_args: Any) -> Any:
    @tool
    def weather(city: str, api_key: str = "") -> str:
        """Weather for a city."""
        calls.append({"city": city, "api_key": api_key})
        return f"sunny in {city}"

    return create_agent(ScriptedModel(**model_args), [weather], middleware=[NemoRelayMiddleware()])


@pytest.mark.parametrize("use_async", [False, True])
def test_model_and_tool_calls_are_managed_calls_under_the_current_scope(events, use_async):
    calls: list[dict[str, Any]] = []
    agent = weather_agent(calls)

    with scope.scope("request", ScopeType.Agent) as request:
        result = run(agent, "Paris", use_async)

    assert result["messages"][-1].content == "Answer: sunny in Paris"
    assert calls == [{"city": "Paris", "api_key": ""}]
    assert tree(events.events, request.parent_uuid) == [
        "agent:request",
        "  llm:scripted-model",
        "  tool:weather",
        "  llm:scripted-model",
    ]
    assert_balanced(events.events)
    tool_start = events.one("weather", "start")
    assert tool_start.data == {"city": "Paris"}
    assert tool_start.category_profile == {"tool_call_id": "call-Paris"}
    assert end_of(events.events, tool_start).data["data"]["content"] == "sunny in Paris"
    first_llm = events.named("scripted-model", "start")[0]
    assert first_llm.category_profile["model_name"] == "scripted-model"
    assert first_llm.data["content"]["messages"][0]["data"]["content"] == "Paris"
    assert first_llm.data["content"]["tools"][0]["name"] == "weather"
    # the LangChain codec annotates the request and the response
    assert first_llm.annotated_request.messages == [{"role": "user", "content": "Paris"}]
    assert first_llm.annotated_request.model == "scripted-model"
    assert first_llm.annotated_request.tools[0]["name"] == "weather"
    response = end_of(events.events, first_llm).annotated_response
    assert response.tool_calls == [{"id": "call-Paris", "name": "weather", "arguments": {"city": "Paris"}}]
    assert response.has_tool_calls()
    last = end_of(events.events, events.named("scripted-model", "start")[1])
    assert last.annotated_response.response_text() == "Answer: sunny in Paris"
    assert last.data["messages"][0]["data"]["content"] == "Answer: sunny in Paris"


@pytest.mark.parametrize("use_async", [False, True])
def test_with_the_callback_handler_calls_are_recorded_once_under_their_nodes(events, use_async):
    calls: list[dict[str, Any]] = []
    agent = weather_agent(calls)
    handler = NemoRelayCallbackHandler()
    before = scope.get_handle()

    run(agent, "Oslo", use_async, config={"callbacks": [handler]})

    assert tree(events.events, before.uuid) == [
        "agent:LangGraph",
        "  function:model",
        "    llm:scripted-model",
        "  function:tools",
        "    tool:weather",
        "  function:model",
        "    llm:scripted-model",
    ]
    # recorded by the middleware (managed), not by the handler
    assert "langchain_run_id" not in (events.one("weather", "start").metadata or {})
    assert_balanced(events.events)
    assert handler.open_runs == 0
    assert scope.get_handle() == before


@pytest.mark.parametrize("use_async", [False, True])
def test_a_conditional_guardrail_blocks_a_tool(events, registered, use_async):
    calls: list[dict[str, Any]] = []
    agent = weather_agent(calls)
    registered(guardrails, "tool_conditional_execution", "no-atlantis", 0,
               lambda name, args: "Atlantis is off limits" if args.get("city") == "Atlantis" else None)

    result = run(agent, "Atlantis", use_async)

    assert calls == []  # the tool never ran
    rejection = next(m for m in result["messages"] if isinstance(m, ToolMessage))
    assert rejection.status == "error"
    assert "Atlantis is off limits" in rejection.content
    assert result["messages"][-1].content == f"Answer: {rejection.content}"
    assert events.named("weather", "start") == []
    assert [e.name for e in events.events if e.kind == "scope" and e.category == "guardrail"]


def test_a_rejection_can_raise_instead(events, registered):
    @tool
    def weather(city: str) -> str:
        """Weather for a city."""
        raise AssertionError("must not run")

    agent = create_agent(ScriptedModel(), [weather], middleware=[NemoRelayMiddleware(tool_rejection="raise")])
    registered(guardrails, "tool_conditional_execution", "no-tools", 0, lambda name, args: "no tools today")
    with pytest.raises(errors.GuardrailRejected) as info:
        run(agent, "Rome", use_async=False)
    assert info.value.reason == "no tools today"
    with pytest.raises(ValueError, match="tool_rejection"):
        NemoRelayMiddleware(tool_rejection="ignore")  # type: ignore[arg-type]


@pytest.mark.parametrize("use_async", [False, True])
def test_a_request_intercept_rewrites_the_tool_args(events, registered, use_async):
    calls: list[dict[str, Any]] = []
    agent = weather_agent(calls)
    registered(intercepts, "tool_request", "metric-city", 0, False,
               lambda name, args: {**args, "city": args["city"].upper()})

    result = run(agent, "Lima", use_async)

    assert calls == [{"city": "LIMA", "api_key": ""}]
    assert result["messages"][-1].content == "Answer: sunny in LIMA"
    assert events.one("weather", "start").data == {"city": "LIMA"}


@pytest.mark.parametrize("use_async", [False, True])
def test_a_sanitizer_keeps_a_secret_out_of_the_record(events, registered, use_async):
    calls: list[dict[str, Any]] = []
    agent = weather_agent(calls, extra_args={"api_key": "sk-live-123"})
    registered(guardrails, "tool_sanitize_request", "hide-key", 0,
               lambda name, args: {**args, "api_key": "***"} if "api_key" in args else args)
    registered(guardrails, "llm_sanitize_response", "hide-key-llm", 0,
               lambda response: json.loads(json.dumps(response).replace("sk-live-123", "***")))
    registered(guardrails, "llm_sanitize_request", "hide-key-llm-req", 0,
               lambda request: LLMRequest(request.headers,
                                                json.loads(json.dumps(request.content).replace("sk-live-123", "***"))))

    run(agent, "Quito", use_async)

    assert calls == [{"city": "Quito", "api_key": "sk-live-123"}]  # the tool got the real key
    assert events.one("weather", "start").data == {"city": "Quito", "api_key": "***"}
    recorded = json.dumps(events.dicts())
    assert "sk-live-123" not in recorded


@pytest.mark.parametrize("use_async", [False, True])
def test_an_llm_request_intercept_edits_what_the_model_gets(events, registered, use_async):
    seen: list[str] = []
    headers: list[Any] = []

    class Recording(ScriptedModel):
        def reply(self, messages: list[Any]) -> AIMessage:
            seen.append(str(messages[-1].content))
            return super().reply(messages)

        def _generate(self, messages: list[Any], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
            headers.append(kwargs.get("extra_headers"))
            return super()._generate(messages, stop, run_manager, **kwargs)

    @tool
    def weather(city: str) -> str:
        """Weather for a city."""
        return f"sunny in {city}"

    def rewrite(name: str, request: LLMRequest, annotated: Any) -> tuple[LLMRequest, Any]:
        # with the LangChain codec, an intercept edits the annotated messages
        assert name == "scripted-model"
        annotated.messages = [{**m, "content": "Berlin"} if m["role"] == "user" else m for m in annotated.messages]
        return LLMRequest({**request.headers, "x-trace": "1"}, request.content), annotated

    registered(intercepts, "llm_request", "to-berlin", 0, False, rewrite)
    agent = create_agent(Recording(), [weather], middleware=[NemoRelayMiddleware()])

    result = run(agent, "Madrid", use_async)

    assert seen[0] == "Berlin"
    assert headers[0] == {"x-trace": "1"}  # headers go to model_settings["extra_headers"]
    assert result["messages"][-1].content == "Answer: sunny in Berlin"
    # the agent's own history is untouched; only the model call saw the edit
    assert result["messages"][0].content == "Madrid"


@pytest.mark.parametrize("use_async", [False, True])
def test_an_execution_intercept_can_replace_a_tool_result(events, registered, use_async):
    calls: list[dict[str, Any]] = []
    agent = weather_agent(calls)

    if use_async:
        async def cached(name: str, args: Any, next_: Any) -> Any:
            return "cached: cloudy"
    else:
        def cached(name: str, args: Any, next_: Any) -> Any:  # type: ignore[misc]
            return "cached: cloudy"

    registered(intercepts, "tool_execution", "cache", 0, cached)
    result = run(agent, "Kyiv", use_async)

    assert calls == []
    tool_message = next(m for m in result["messages"] if isinstance(m, ToolMessage))
    assert tool_message.content == "cached: cloudy"
    assert tool_message.tool_call_id == "call-Kyiv"
    assert result["messages"][-1].content == "Answer: cached: cloudy"


@pytest.mark.parametrize("use_async", [False, True])
def test_an_exception_inside_a_tool_ends_every_scope_it_opened(events, use_async):
    @tool
    def weather(city: str) -> str:
        """Weather for a city."""
        raise RuntimeError("sensor offline")

    agent = create_agent(ScriptedModel(), [weather], middleware=[NemoRelayMiddleware()])
    handler = NemoRelayCallbackHandler()
    before = scope.get_handle()

    with pytest.raises(RuntimeError, match="sensor offline"):
        with scope.scope("request", ScopeType.Agent):
            run(agent, "Nairobi", use_async, config={"callbacks": [handler]})

    assert_balanced(events.events)
    ends = {e.name: e for e in events.events if e.kind == "scope" and e.scope_category == "end"}
    for name in ("weather", "tools", "LangGraph", "request"):
        assert ends[name].metadata["otel.status_code"] == "ERROR", name
    assert ends["weather"].metadata["otel.status_description"] == "sensor offline"
    assert ancestors(events.events, events.one("weather", "start").parent_uuid) == ["tools", "LangGraph", "request"]
    assert handler.open_runs == 0
    assert scope.get_handle() == before


async def test_concurrent_ainvokes_keep_their_own_scopes(events):
    calls: list[dict[str, Any]] = []
    agent = weather_agent(calls)
    handler = NemoRelayCallbackHandler()
    cities = [f"city{i}" for i in range(8)]

    async def one(city: str) -> str:
        with scope.scope(f"request-{city}", ScopeType.Agent):
            result = await agent.ainvoke({"messages": [HumanMessage(city)]}, config={"callbacks": [handler]})
        return str(result["messages"][-1].content)

    answers = await asyncio.gather(*(one(c) for c in cities))

    assert answers == [f"Answer: sunny in {c}" for c in cities]
    assert_balanced(events.events)
    for start in events.named("weather", "start"):
        city = start.data["city"]
        chain = ancestors(events.events, start.parent_uuid)
        assert chain == ["tools", "LangGraph", f"request-{city}"]
    for start in events.named("scripted-model", "start"):
        city = start.data["content"]["messages"][0]["data"]["content"]
        assert ancestors(events.events, start.parent_uuid) == ["model", "LangGraph", f"request-{city}"]
    assert len(events.named("weather", "start")) == len(cities)
    assert handler.open_runs == 0


async def test_astream_of_an_agent_records_chunks_under_the_model_node(events):
    calls: list[dict[str, Any]] = []
    agent = weather_agent(calls)
    handler = NemoRelayCallbackHandler()

    tokens = [message.content async for message, meta in agent.astream(
        {"messages": [HumanMessage("Oslo")]}, config={"callbacks": [handler]}, stream_mode="messages")
        if meta["langgraph_node"] == "model"]

    assert "".join(tokens) == "Answer: sunny in Oslo"
    marks = [e for e in events.events if e.kind == "mark" and e.name == "llm.chunk"]
    model_nodes = [e.uuid for e in events.named("model", "start")]
    assert {m.parent_uuid for m in marks} == set(model_nodes)
    assert "".join(m.data["token"] for m in marks) == "Answer: sunny in Oslo"
    assert_balanced(events.events)
    assert handler.open_runs == 0
