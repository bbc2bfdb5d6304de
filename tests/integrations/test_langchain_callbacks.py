"""The LangChain callback handler: LangChain runs recorded as scopes, LLM
calls and tool calls, with LangChain's fake chat models (no network)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("langchain_core", reason="needs the 'langchain' extra")

from _langchain_fakes import ScriptedModel, ToolCallingFakeModel, assert_balanced, end_of, tree  # noqa: E402
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langchain_core.runnables import RunnableLambda  # noqa: E402
from langchain_core.tools import tool  # noqa: E402

import nemo_relay  # noqa: E402
from nemo_relay import ScopeType, scope  # noqa: E402
from nemo_relay.integrations.langchain import NemoRelayCallbackHandler  # noqa: E402


def test_importing_the_core_package_never_imports_langchain(tmp_path):
    code = textwrap.dedent("""
        import sys
        import nemo_relay, nemo_relay.integrations
        from nemo_relay import guardrails, intercepts, llm, plugin, scope, subscribers, tools
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("langchain", "langchain_core", "langgraph"))
        assert not loaded, loaded
        print("clean")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "clean"


@pytest.mark.parametrize("module, extra", [
    ("nemo_relay.integrations.langchain", "langchain"),
    ("nemo_relay.integrations.langgraph", "langgraph"),
])
def test_a_missing_framework_names_the_extra_to_install(module, extra, tmp_path):
    # a None entry in sys.modules makes the import fail as if not installed
    code = textwrap.dedent(f"""
        import sys
        sys.modules["langchain_core"] = None
        sys.modules["langgraph"] = None
        try:
            import {module}
        except ImportError as e:
            print(e)
        else:
            raise SystemExit("imported")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"pip install 'nemo-relay[{extra}]'" in proc.stdout


def test_the_langgraph_integration_needs_no_langchain_package(tmp_path):
    # the `langgraph` extra brings langchain-core but not `langchain`
    code = textwrap.dedent("""
        import sys
        sys.modules["langchain"] = None
        from nemo_relay.integrations.langgraph import NemoRelayCallbackHandler, managed_tool_node
        from nemo_relay.integrations.langchain import NemoRelayCallbackHandler as Base
        assert issubclass(NemoRelayCallbackHandler, Base) and callable(managed_tool_node)
        try:
            from nemo_relay.integrations.langgraph import NemoRelayMiddleware
        except ImportError as e:
            print(e)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "pip install 'nemo-relay[langchain]'" in proc.stdout


def test_a_chain_and_its_chat_model_become_an_agent_scope_and_an_llm_call(events):
    handler = NemoRelayCallbackHandler()
    model = GenericFakeChatModel(messages=iter(["Paris is sunny"]))
    chain = (RunnableLambda(lambda q: [HumanMessage(q)]) | model).with_config(run_name="weather-chain")
    before = scope.get_handle()

    with scope.scope("request", ScopeType.Agent) as request:
        out = chain.invoke("weather in Paris?", config={"callbacks": [handler]})

    assert out.content == "Paris is sunny"
    assert tree(events.events, request.parent_uuid) == [
        "agent:request",
        "  agent:weather-chain",
        "    function:RunnableLambda",
        "    llm:GenericFakeChatModel",
    ]
    assert_balanced(events.events)
    chain_start = events.one("weather-chain", "start")
    assert chain_start.metadata["langchain_run_id"]
    llm_start = events.one("GenericFakeChatModel", "start")
    assert llm_start.parent_uuid == chain_start.uuid
    assert llm_start.data["content"]["messages"][0]["data"]["content"] == "weather in Paris?"
    assert llm_start.annotated_request.messages == [{"role": "user", "content": "weather in Paris?"}]
    llm_end = end_of(events.events, llm_start)
    assert llm_end.data["messages"][0]["data"]["content"] == "Paris is sunny"
    assert llm_end.annotated_response.response_text() == "Paris is sunny"
    assert llm_end.metadata["otel.status_code"] == "OK"
    assert end_of(events.events, chain_start).metadata["otel.status_code"] == "OK"
    assert handler.open_runs == 0
    assert scope.get_handle() == before


def test_streamed_tokens_are_chunk_marks_of_their_llm_call(events):
    handler = NemoRelayCallbackHandler()
    model = GenericFakeChatModel(messages=iter(["the sky is blue"]))

    chunks = [c.content for c in model.stream("sky?", config={"callbacks": [handler]})]

    llm_start = events.one("GenericFakeChatModel", "start")
    marks = [e for e in events.events if e.kind == "mark" and e.name == "llm.chunk"]
    assert [m.parent_uuid for m in marks] == [llm_start.uuid] * len(marks)
    assert "".join(m.data["token"] for m in marks) == "".join(chunks) == "the sky is blue"
    assert len(marks) > 1
    assert handler.open_runs == 0


async def test_async_streaming_records_tool_call_chunks(events):
    handler = NemoRelayCallbackHandler()
    model = ScriptedModel()

    async for _ in model.astream([HumanMessage("Oslo")], config={"callbacks": [handler]}):
        pass

    marks = [e for e in events.events if e.kind == "mark" and e.name == "llm.chunk"]
    # the tool call arrives as one chunk (LangChain may add an empty closing one)
    assert marks[0].data["tool_call_chunks"][0]["name"] == "weather"
    assert marks[0].data["tool_call_chunks"][0]["args"] == '{"city": "Oslo"}'
    assert {m.parent_uuid for m in marks} == {events.one("scripted-model", "start").uuid}
    assert handler.open_runs == 0


def test_a_failing_chain_ends_its_scopes_with_error(events):
    handler = NemoRelayCallbackHandler()

    def explode(_: str) -> str:
        raise ValueError("no forecast today")

    chain = RunnableLambda(lambda q: q).with_config(run_name="outer") | RunnableLambda(explode)
    before = scope.get_handle()
    with pytest.raises(ValueError, match="no forecast today"):
        chain.invoke("x", config={"callbacks": [handler]})

    assert_balanced(events.events)
    ends = {e.name: e for e in events.events if e.kind == "scope" and e.scope_category == "end"}
    assert ends["explode"].metadata == {
        **ends["explode"].metadata, "otel.status_code": "ERROR", "otel.status_description": "no forecast today"}
    seq = [n for n in ends if n.startswith("RunnableSequence")]
    assert ends[seq[0]].metadata["otel.status_code"] == "ERROR"
    assert "no forecast today" in ends["explode"].data["error"]
    assert handler.open_runs == 0
    assert scope.get_handle() == before


def test_a_tool_run_is_a_tool_call_with_its_call_id(events):
    handler = NemoRelayCallbackHandler()

    @tool
    def weather(city: str) -> str:
        """Weather for a city."""
        return f"sunny in {city}"

    msg = weather.invoke({"name": "weather", "args": {"city": "Rome"}, "id": "call-7", "type": "tool_call"},
                         config={"callbacks": [handler]})

    assert msg.content == "sunny in Rome"
    start = events.one("weather", "start")
    assert start.category == "tool"
    assert start.category_profile == {"tool_call_id": "call-7"}
    assert start.data == {"city": "Rome"}
    end = end_of(events.events, start)
    assert end.data["data"]["content"] == "sunny in Rome"
    assert end.metadata["otel.status_code"] == "OK"


def test_a_failing_tool_run_ends_with_error(events):
    handler = NemoRelayCallbackHandler()

    @tool
    def broken(city: str) -> str:
        """Always fails."""
        raise RuntimeError("sensor offline")

    with pytest.raises(RuntimeError, match="sensor offline"):
        broken.invoke({"city": "Rome"}, config={"callbacks": [handler]})
    end = end_of(events.events, events.one("broken", "start"))
    assert end.metadata["otel.status_code"] == "ERROR"
    assert end.metadata["otel.status_description"] == "sensor offline"
    assert handler.open_runs == 0


@pytest.mark.parametrize("use_async", [False, True])
def test_an_agent_run_tree(events, use_async):
    from langchain.agents import create_agent

    @tool
    def weather(city: str) -> str:
        """Weather for a city."""
        return f"sunny in {city}"

    model = ToolCallingFakeModel(messages=iter([
        AIMessage(content="", tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "call-1"}]),
        AIMessage(content="It is sunny in Paris"),
    ]))
    agent = create_agent(model, [weather])
    handler = NemoRelayCallbackHandler()
    request = {"messages": [HumanMessage("Weather in Paris?")]}
    before = scope.get_handle()

    if use_async:
        result = asyncio.run(agent.ainvoke(request, config={"callbacks": [handler]}))
    else:
        result = agent.invoke(request, config={"callbacks": [handler]})

    assert result["messages"][-1].content == "It is sunny in Paris"
    assert tree(events.events, before.uuid) == [
        "agent:LangGraph",
        "  function:model",
        "    llm:fake-model",
        "  function:tools",
        "    tool:weather",
        "  function:model",
        "    llm:fake-model",
    ]
    assert_balanced(events.events)
    assert events.one("weather", "start").category_profile == {"tool_call_id": "call-1"}
    assert handler.open_runs == 0
    assert scope.get_handle() == before
    assert nemo_relay.scope.get_handle() == before


def test_the_handler_sanitizes_every_payload_it_records(events):
    def scrub(value):
        return json.loads(json.dumps(value).replace("sk-live-123", "***"))

    handler = NemoRelayCallbackHandler(sanitize=scrub)
    model = GenericFakeChatModel(messages=iter(["your key is sk-live-123"]))
    chain = RunnableLambda(lambda q: [HumanMessage(q)]) | model

    out = chain.invoke("remember sk-live-123", config={"callbacks": [handler]})

    assert out.content == "your key is sk-live-123"  # the caller gets the real value
    recorded = json.dumps(events.dicts())
    assert "sk-live-123" not in recorded and "***" in recorded


def test_a_failing_handler_sanitizer_records_null_and_warns(events):
    def broken(value):
        raise KeyError("boom")

    handler = NemoRelayCallbackHandler(sanitize=broken)
    with pytest.warns(RuntimeWarning, match="sanitize failed"):
        RunnableLambda(lambda q: q.upper()).invoke("secret", config={"callbacks": [handler]})
    start = events.one("RunnableLambda", "start")
    assert start.data is None and end_of(events.events, start).data is None
    with pytest.raises(TypeError, match="sanitize must be callable"):
        NemoRelayCallbackHandler(sanitize="nope")  # type: ignore[arg-type]
