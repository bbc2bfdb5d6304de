"""A realistic, fully typed program using nemo_relay's public API.

It is type-checked with ``mypy --strict`` by tests/test_typing.py, never run:
it proves the annotations and the ``_native`` stubs are complete and precise
enough for strict users.  ``assert_type`` pins the types the stubs promise.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, Literal, assert_type

import nemo_relay
from nemo_relay import (
    Event,
    LLMAttributes,
    LLMHandle,
    LLMRequest,
    MarkEvent,
    ScopeAttributes,
    ScopeEvent,
    ScopeHandle,
    ScopeStack,
    ScopeType,
    ToolAttributes,
    ToolHandle,
    errors,
    guardrails,
    intercepts,
    llm,
    plugin,
    scope,
    scope_local,
    subscribers,
    tools,
    use_scope_stack,
)

Json = Any

# ---- subscribers: narrowing the event union --------------------------------------------------

recorded: list[Event] = []
open_scopes: dict[str, str] = {}


def on_event(event: ScopeEvent | MarkEvent) -> None:
    recorded.append(event)
    if event.kind == "scope":
        assert_type(event, ScopeEvent)
        assert_type(event.scope_category, Literal["start", "end"])
        category: str = event.category
        flags: list[str] = event.attributes
        if event.scope_category == "start":
            open_scopes[event.uuid] = f"{category}:{event.name}:{','.join(flags)}"
        else:
            open_scopes.pop(event.uuid, None)
        profile = event.category_profile
        if profile is not None:
            assert_type(profile, dict[str, Any])
    else:
        assert_type(event, MarkEvent)
        mark_category: str | None = event.category
        print("mark", event.name, mark_category, event.data)
    parent: str | None = event.parent_uuid
    wire: dict[str, Any] = event.to_dict()
    text: str = event.to_json()
    print(parent, wire["atof_version"], len(text), event.timestamp)


def on_event_isinstance(event: Event) -> None:
    if isinstance(event, ScopeEvent):
        print(event.scope_category, event.annotated_request, event.annotated_response)
    else:
        assert_type(event, MarkEvent)


# ---- guardrails --------------------------------------------------------------------------------


def redact_args(tool_name: str, args: Json) -> Json:
    if isinstance(args, dict):
        return {k: ("***" if k == "api_key" else v) for k, v in args.items()}
    return args


def block_destructive(tool_name: str, args: Json) -> str | None:
    return "destructive tools need a human" if tool_name.startswith("delete") else None


def strip_auth(request: LLMRequest) -> LLMRequest:
    headers = request.headers
    headers.pop("authorization", None)
    return LLMRequest(headers, request.content)


def redact_response(response: Json) -> Json:
    return response


def no_empty_prompts(request: LLMRequest) -> str | None:
    return None if request.content else "empty prompt"


# ---- intercepts --------------------------------------------------------------------------------


def add_units(tool_name: str, args: Json) -> Json:
    return {**args, "units": "metric"} if isinstance(args, dict) else args


async def retry_once(tool_name: str, args: Json, next_: Callable[[Json], Awaitable[Json]]) -> Json:
    try:
        return await next_(args)
    except errors.RelayError:
        return await next_(args)


def pass_through(tool_name: str, args: Json, next_: Callable[[Json], Awaitable[Json]]) -> Awaitable[Json]:
    return next_(args)


def add_system_prompt(name: str, request: LLMRequest, annotated: Json) -> tuple[LLMRequest, Json]:
    content = request.content
    if isinstance(content, dict):
        content = {**content, "system": "be brief"}
    return LLMRequest(request.headers, content), annotated


async def time_llm(name: str, request: LLMRequest, next_: Callable[[LLMRequest], Awaitable[Json]]) -> Json:
    started = datetime.now(timezone.utc)
    response = await next_(request)
    print(name, datetime.now(timezone.utc) - started)
    return response


def tag_chunks(
    request: LLMRequest, next_: Callable[[LLMRequest], Awaitable[AsyncIterator[Json]]]
) -> Awaitable[AsyncIterator[Json]]:
    async def tagged() -> AsyncIterator[Json]:
        downstream = await next_(request)

        async def gen() -> AsyncIterator[Json]:
            async for chunk in downstream:
                yield {"chunk": chunk, "tagged": True}

        return gen()

    return tagged()


# ---- tools and LLMs ----------------------------------------------------------------------------


async def get_weather(args: Json) -> Json:
    await asyncio.sleep(0)
    return {"city": args["city"], "temperature_c": 18}


def get_time(args: Json) -> Json:
    return {"utc": datetime.now(timezone.utc).isoformat()}


def fake_llm(request: LLMRequest) -> Json:
    return {"role": "assistant", "content": f"echo {request.content!r}"}


async def fake_stream(request: LLMRequest) -> AsyncIterator[Json]:
    for word in ("hello", "world"):
        yield {"delta": word}


async def run_tools(parent: ScopeHandle) -> None:
    weather = await tools.execute(
        "get_weather",
        {"city": "Paris"},
        get_weather,
        handle=parent,
        attributes=ToolAttributes.REMOTE,
        metadata={"source": "typed_usage"},
        tool_call_id="call-1",
    )
    print(weather["temperature_c"])
    pending = tools.execute("get_time", {}, get_time)
    task: asyncio.Task[Json] = asyncio.create_task(pending)
    print(await task)
    print(tools.execute_sync("get_time", {}, get_time))
    try:
        await tools.execute("delete_files", {"path": "/"}, get_time)
    except errors.GuardrailRejected as rejected:
        reason: str | None = rejected.reason
        print("rejected:", reason)
    rewritten = tools.request_intercepts("get_weather", {"city": "Oslo"})
    tools.conditional_execution("get_weather", rewritten)

    manual: ToolHandle = tools.call("manual", {"q": 1}, attributes=ToolAttributes(0), tool_call_id="call-2")
    print(manual.tool_call_id, manual.attributes.is_remote, manual.start_time.isoformat())
    tools.call_end(manual, {"ok": True}, metadata={"cached": False}, timestamp=datetime.now(timezone.utc))


async def run_llm() -> str:
    request = LLMRequest({"authorization": "Bearer sk-demo"}, {"messages": [{"role": "user", "content": "hi"}]})
    response = await llm.execute("fake-llm", request, fake_llm, model_name="fake-1",
                                 attributes=LLMAttributes.STATEFUL | LLMAttributes.STREAMING)
    answer: str = response["content"]
    print(llm.execute_sync("fake-llm", request, fake_llm))
    rewritten: LLMRequest = llm.request_intercepts("fake-llm", request)
    llm.conditional_execution(rewritten)

    collected: list[Json] = []
    stream: llm.LlmStream = await llm.stream_execute(
        "fake-stream", request, fake_stream, collected.append, lambda: {"chunks": len(collected)}
    )
    async with stream:
        async for chunk in stream:
            print(chunk)

    handle: LLMHandle = llm.call("manual-llm", request, model_name="fake-1")
    model: str | None = handle.model_name
    llm.call_end(handle, {"content": "done"}, annotated_response={"id": "r1"}, metadata={"model": model})
    return answer


# ---- plugins -----------------------------------------------------------------------------------


class AuditPlugin:
    """A Python plugin kind: validates its config and registers middleware."""

    allows_multiple_components = False

    def validate(self, plugin_config: dict[str, Any]) -> list[plugin.ConfigDiagnostic] | None:
        if "level" not in plugin_config:
            return [{"level": "warning", "code": "audit.level_missing", "message": "no level", "field": "level"}]
        return None

    def register(self, config: dict[str, Any], context: plugin.PluginContext) -> None:
        namespace: str | None = context.namespace
        print("registering under", namespace)
        context.register_subscriber("audit", on_event)
        context.register_tool_sanitize_request_guardrail("redact", 0, redact_args)
        context.register_tool_sanitize_response_guardrail("redact", 0, redact_args)
        context.register_tool_conditional_execution_guardrail("block", 0, block_destructive)
        context.register_tool_request_intercept("units", 0, False, add_units)
        context.register_tool_execution_intercept("retry", 10, retry_once)
        context.register_llm_sanitize_request_guardrail("auth", 0, strip_auth)
        context.register_llm_sanitize_response_guardrail("resp", 0, redact_response)
        context.register_llm_conditional_execution_guardrail("empty", 0, no_empty_prompts)
        context.register_llm_request_intercept("system", 0, True, add_system_prompt)
        context.register_llm_execution_intercept("timer", 0, time_llm)
        context.register_llm_stream_execution_intercept("tag", 0, tag_chunks)


async def run_plugins() -> None:
    plugin.register("audit", AuditPlugin())
    config = plugin.PluginConfig(
        components=[plugin.ComponentSpec("audit", config={"level": "info"})],
        policy=plugin.ConfigPolicy(unknown_component="error", unknown_field="ignore"),
    )
    report: plugin.ConfigReport = plugin.validate(config)
    for diagnostic in report["diagnostics"]:
        print(diagnostic["level"], diagnostic["code"], diagnostic.get("field"))
    try:
        async with plugin.plugin(config) as active:
            print(active["diagnostics"], plugin.report(), plugin.list_kinds())
        await plugin.initialize({"version": 1, "components": [{"kind": "audit", "config": {}}]})
    except errors.InvalidConfig as exc:
        print("invalid:", exc.plugin_id, exc.manifest, exc.check)
    finally:
        plugin.clear()
        removed: bool = plugin.deregister("audit")
        print(removed)


async def run_native_plugins(manifest: str) -> None:
    try:
        facts = plugin.check_manifest(manifest, plugin_id="redact")
        print(facts["library"])
        with plugin.load_native_plugins([plugin.NativePluginLoadSpec("redact", manifest)]) as activation:
            kinds: tuple[str, ...] = activation.kinds
            for info in activation.plugins:
                print(info["kind"], info["abi_version"], info["allows_multiple_components"], kinds)
        spec = plugin.DynamicPluginActivationSpec("redact", "native", manifest, config={"keys": ["api_key"]})
        async with await plugin.initialize_with_dynamic_plugins(None, [spec]) as host:
            print(host.report, host.kinds, host.is_active)
    except errors.PluginLoadError as exc:
        print("failed check:", exc.check)


# ---- scopes, scope-local middleware and stacks -------------------------------------------------


def worker(stack: ScopeStack) -> None:
    with use_scope_stack(stack) as bound:
        assert_type(bound, ScopeStack)
        scope.event("worker-started", data={"thread": threading.get_ident()})


async def main() -> None:
    subscribers.register("printer", on_event)
    guardrails.register_tool_sanitize_request("redact", 0, redact_args)
    guardrails.register_tool_sanitize_response("redact", 0, redact_args)
    guardrails.register_tool_conditional_execution("block", 0, block_destructive)
    guardrails.register_llm_sanitize_request("auth", 0, strip_auth)
    guardrails.register_llm_sanitize_response("resp", 0, redact_response)
    guardrails.register_llm_conditional_execution("empty", 0, no_empty_prompts)
    intercepts.register_tool_request("units", 0, False, add_units)
    intercepts.register_tool_execution("retry", 0, retry_once)
    intercepts.register_tool_execution("pass", 1, pass_through)
    intercepts.register_llm_request("system", 0, False, add_system_prompt)
    intercepts.register_llm_execution("timer", 0, time_llm)
    intercepts.register_llm_stream_execution("tag", 0, tag_chunks)
    try:
        with scope.scope("agent", ScopeType.Agent, attributes=ScopeAttributes.PARALLEL | 2,
                         metadata={"session": "typed"}, input={"question": "weather?"}) as agent:
            assert_type(agent, ScopeHandle)
            kind: ScopeType = agent.scope_type
            print(kind.name, agent.attributes.is_parallel, agent.parent_uuid, agent.data)
            scope_local.register_subscriber(agent, "local", on_event_isinstance)
            scope_local.register_tool_conditional_execution(agent, "local-block", 0, block_destructive)
            scope_local.register_llm_execution(agent, "local-timer", 0, time_llm)

            step = scope.push("plan", ScopeType.Function, handle=agent, data={"step": 1},
                              timestamp=datetime.now(timezone.utc))
            scope.event("thinking", handle=step, data={"thought": "use tools"})
            await run_tools(step)
            scope.pop(step, output={"ok": True}, metadata={"steps": 1})

            print(await run_llm())
            current: ScopeHandle = scope.get_handle()
            print(current == agent, hash(current))

            stack = nemo_relay.propagate_scope_to_thread()
            thread = threading.Thread(target=worker, args=(stack,))
            thread.start()
            thread.join()

            child = asyncio.create_task(run_plugins(), context=nemo_relay.fork_asyncio_context())
            await child

            assert scope_local.deregister_tool_conditional_execution(agent, "local-block")
            scope_local.deregister_llm_execution(agent, "local-timer")
            scope_local.deregister_subscriber(agent, "local")

        fresh: ScopeStack = nemo_relay.create_scope_stack()
        async with use_scope_stack(fresh):
            print(fresh.top.name, nemo_relay.scope_stack_active(), nemo_relay.get_scope_stack())
        nemo_relay.set_thread_scope_stack(nemo_relay.get_scope_stack())
    except errors.ScopeNotFound as missing:
        print("scope gone:", missing)
    except errors.RelayError as failure:
        print("relay error:", failure)
    finally:
        for deregister in (
            guardrails.deregister_tool_sanitize_request,
            guardrails.deregister_tool_sanitize_response,
            guardrails.deregister_tool_conditional_execution,
            guardrails.deregister_llm_sanitize_request,
            guardrails.deregister_llm_sanitize_response,
            guardrails.deregister_llm_conditional_execution,
        ):
            deregister("redact")
        intercepts.deregister_tool_request("units")
        intercepts.deregister_tool_execution("retry")
        intercepts.deregister_tool_execution("pass")
        intercepts.deregister_llm_request("system")
        intercepts.deregister_llm_execution("timer")
        intercepts.deregister_llm_stream_execution("tag")
        subscribers.flush()
        subscribers.deregister("printer")
    print(nemo_relay.__version__, nemo_relay.get_include(), len(recorded), open_scopes)


if __name__ == "__main__":
    asyncio.run(main())
