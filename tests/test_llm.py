"""LLM calls: LLMRequest, managed and manual calls, LLM middleware."""

from __future__ import annotations

import asyncio

import pytest

from nemo_relay import LLMAttributes, LLMHandle, LLMRequest, ScopeType, errors, guardrails, intercepts, llm, scope


def test_llm_request_is_immutable_with_copying_properties():
    headers = {"authorization": "x"}
    content = {"messages": [{"role": "user", "content": "hi"}]}
    req = LLMRequest(headers, content)
    headers["authorization"] = "changed"
    content["messages"].append("changed")
    assert req.headers == {"authorization": "x"}
    assert req.content == {"messages": [{"role": "user", "content": "hi"}]}
    got = req.content
    got["messages"].clear()
    assert len(req.content["messages"]) == 1
    assert req == LLMRequest({"authorization": "x"}, {"messages": [{"role": "user", "content": "hi"}]})
    assert req.to_dict() == {"headers": {"authorization": "x"}, "content": req.content}
    assert "LLMRequest(" in repr(req)
    with pytest.raises(AttributeError):
        req.content = {}  # type: ignore[misc]
    with pytest.raises(TypeError, match="not an instance of 'dict'"):
        LLMRequest(["not", "a", "dict"], None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        LLMRequest({}, {"x": object()})
    with pytest.raises(TypeError):
        hash(req)


async def test_llm_execute_events(events):
    req = LLMRequest({"x-key": "k"}, {"prompt": "hello"})

    async def model(request):
        await asyncio.sleep(0)
        return {"text": request.content["prompt"].upper()}

    with scope.scope("agent", ScopeType.Agent) as agent:
        out = await llm.execute("gpt", req, model, model_name="gpt-x", metadata={"m": 1},
                                attributes=LLMAttributes.STATEFUL | LLMAttributes.STREAMING)
    assert out == {"text": "HELLO"}
    start, end = events.named("gpt")
    assert start.category == "llm" and start.parent_uuid == agent.uuid
    assert start.data == {"headers": {"x-key": "k"}, "content": {"prompt": "hello"}}
    assert start.category_profile == {"model_name": "gpt-x"}
    assert start.attributes == ["stateful", "streaming"]
    assert end.data == {"text": "HELLO"}
    assert end.metadata == {"m": 1, "otel.status_code": "OK"}
    assert llm.execute_sync("gpt", req, lambda r: "sync") == "sync"


async def test_llm_middleware_pipeline(events, registered):
    def redact(request):
        return LLMRequest({}, {"prompt": "[redacted]"})

    registered(guardrails, "llm_sanitize_request", "redact", 0, redact)
    registered(guardrails, "llm_sanitize_response", "resp", 0, lambda r: {**r, "sanitized": True})
    registered(guardrails, "llm_conditional_execution", "allow", 0,
               lambda r: "too long" if len(r.content["prompt"]) > 20 else None)

    def rewrite(name, request, annotated):
        assert annotated is None
        return LLMRequest(request.headers, {**request.content, "system": "be brief"}), {"messages": []}

    registered(intercepts, "llm_request", "rewrite", 0, False, rewrite)
    seen = []

    async def wrap(name, request, next_):
        seen.append(request.content)
        response = await next_(LLMRequest(request.headers, {**request.content, "wrapped": True}))
        return {**response, "post": True}

    registered(intercepts, "llm_execution", "wrap", 0, wrap)

    received = []

    def model(request):
        received.append(request.content)
        return {"text": "ok"}

    out = await llm.execute("m", LLMRequest({"h": 1}, {"prompt": "secret"}), model)
    assert out == {"text": "ok", "post": True}
    assert seen == [{"prompt": "secret", "system": "be brief"}]
    assert received == [{"prompt": "secret", "system": "be brief", "wrapped": True}]
    start = events.one("m", "start")
    assert start.data == {"headers": {}, "content": {"prompt": "[redacted]"}}
    assert start.category_profile == {"annotated_request": {"messages": []}}
    assert events.one("m", "end").data == {"text": "ok", "post": True, "sanitized": True}

    with pytest.raises(errors.GuardrailRejected) as info:
        await llm.execute("m", LLMRequest({}, {"prompt": "x" * 30}), model)
    assert info.value.reason == "too long"
    g_start = events.named("allow", "start")[-1]
    assert g_start.data == {"kind": "llm_conditional_execution"}
    with pytest.raises(errors.GuardrailRejected):
        llm.conditional_execution(LLMRequest({}, {"prompt": "x" * 30}))
    assert llm.conditional_execution(LLMRequest({}, {"prompt": "short"})) is None
    rewritten = llm.request_intercepts("m", LLMRequest({}, {"prompt": "p"}))
    assert rewritten == LLMRequest({}, {"prompt": "p", "system": "be brief"})


async def test_llm_sanitizer_returning_the_wrong_type_records_null(events, registered):
    registered(guardrails, "llm_sanitize_request", "bad", 0, lambda r: {"not": "a request"})
    with pytest.warns(RuntimeWarning, match="'bad' failed"):
        await llm.execute("m", LLMRequest({}, "x"), lambda r: "out")
    assert events.one("m", "start").data is None


async def test_llm_request_intercept_must_return_a_pair(registered):
    registered(intercepts, "llm_request", "bad", 0, False, lambda n, r, a: r)
    with pytest.raises(TypeError, match="must return"):
        await llm.execute("m", LLMRequest({}, "x"), lambda r: "out")


async def test_llm_argument_errors():
    with pytest.raises(TypeError, match="LLMRequest"):
        llm.execute("m", {"headers": {}, "content": 1}, lambda r: r)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="LLMRequest"):
        llm.conditional_execution({"content": 1})  # type: ignore[arg-type]


def test_manual_llm_call_keeps_the_annotated_response(events, registered):
    registered(guardrails, "llm_sanitize_response", "resp", 0, lambda r: {**r, "s": 1})
    h = llm.call("manual-llm", LLMRequest({}, {"q": 1}), model_name="mx", metadata={"a": 1})
    assert isinstance(h, LLMHandle) and h.model_name == "mx"
    annotated = {"id": "annotation-before-plugin", "preexisting_annotation": "kept"}
    llm.call_end(h, {"id": "r", "content": "done"}, annotated_response=annotated)
    start, end = events.named("manual-llm")
    assert start.category_profile == {"model_name": "mx"}
    assert end.category_profile == {"model_name": "mx", "annotated_response": annotated}
    assert end.annotated_response.to_dict() == annotated  # an AnnotatedLLMResponse, as upstream
    assert end.data == {"id": "r", "content": "done", "s": 1}
    assert end.metadata == {"a": 1}
