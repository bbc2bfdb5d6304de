"""One adapter per package: maps each abstract benchmark operation onto that
package's public Python API so both packages do the same work.

- ``ours``: this repository's ``nemo_relay`` (NeMo Relay's v0.5-level API).
- ``upstream``: ``nemo-relay==0.10.4`` from PyPI, whose API differs:
    * a tool function must return ``ToolExecutionResult(result)`` and
      ``tools.execute`` returns that object (ours: the raw JSON value);
    * a tool execution intercept is ``fn(ToolExecutionContext, next)`` and must
      return ``ToolExecutionInterceptOutcome`` (ours: ``fn(name, args, next)``
      returning the result), so it is ``async`` and awaits ``next``;
    * subscriber delivery is queued on a dispatcher thread: the timed region
      ends with ``await subscribers.flush_async()`` (``subscribers.flush()``
      raises inside a running loop) or ``subscribers.flush()`` in sync code,
      so every event has been delivered when the clock stops (ours delivers
      synchronously; its ``flush()`` only asks buffering native subscribers,
      none here, to write out);
    * concurrent tasks that push scopes need their own stack:
      ``asyncio.create_task(coro, context=fork_asyncio_context())`` (ours:
      plain ``asyncio.gather(coro, ...)``; every task's copied context already
      isolates its scope chain).

The timed loops in scenarios.py call the package functions these adapters
expose directly (bound once), so the adapters add no per-call layer.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

ARGS = {"query": "weather in Paris", "units": "metric"}


def _deny_reason(label: str) -> Callable[[str, Any], str | None]:
    reason = f"denied by {label}"

    def guardrail(name: str, args: Any) -> str | None:
        # Same decision as fixtures/bench_chain.c's gN: reject args carrying "deny".
        return reason if isinstance(args, dict) and "deny" in args else None

    return guardrail


def _rewrite(name: str, args: Any) -> Any:
    # Same as bench_chain.c's "rewrite": add "bench": true to object args.
    return {**args, "bench": True} if isinstance(args, dict) else args


def _passthrough_sanitizer(name: str, args: Any) -> Any:
    return args


class Adapter:
    package: str
    version: str
    module_file: str
    nr: Any  # the package's top-level module
    notes: dict[str, str] = {}

    # Set by each adapter: the package's functions, bound once.
    execute: Callable[..., Any]
    execute_sync: Callable[..., Any] | None
    push: Callable[..., Any]
    pop: Callable[..., Any]
    scope_cm: Callable[..., Any]
    function_scope_type: Any

    # -- tool functions (the work being wrapped) --------------------------------
    def tool_fn_async(self) -> Callable[[Any], Any]:
        raise NotImplementedError

    def tool_fn_sync(self) -> Callable[[Any], Any]:
        raise NotImplementedError

    def result_value(self, result: Any) -> Any:
        return result

    # -- registrations ----------------------------------------------------------
    def register_sanitizer(self, name: str) -> None:
        self.nr.guardrails.register_tool_sanitize_request(name, 0, _passthrough_sanitizer)

    def deregister_sanitizer(self, name: str) -> None:
        self.nr.guardrails.deregister_tool_sanitize_request(name)

    def register_subscriber(self, name: str, callback: Callable[[Any], Any]) -> None:
        self.nr.subscribers.register(name, callback)

    def deregister_subscriber(self, name: str) -> None:
        self.nr.subscribers.deregister(name)

    def register_python_chain(self, sync_exec: bool = False) -> None:
        """3 tool conditional guardrails + 1 tool request intercept + 1 tool
        execution intercept, all in Python (the chain of fixtures/bench_chain.c).
        ``sync_exec``: a sync execution intercept (for ``tools.execute_sync``)."""
        g, i = self.nr.guardrails, self.nr.intercepts
        for prio, label in enumerate(("g1", "g2", "g3")):
            g.register_tool_conditional_execution(label, prio, _deny_reason(label))
        i.register_tool_request("rewrite", 0, False, _rewrite)
        i.register_tool_execution("exec", 0, self.sync_execution_intercept() if sync_exec
                                  else self.execution_intercept())

    def deregister_python_chain(self) -> None:
        g, i = self.nr.guardrails, self.nr.intercepts
        for label in ("g1", "g2", "g3"):
            g.deregister_tool_conditional_execution(label)
        i.deregister_tool_request("rewrite")
        i.deregister_tool_execution("exec")

    def execution_intercept(self) -> Callable[..., Any]:
        raise NotImplementedError

    def sync_execution_intercept(self) -> Callable[..., Any]:
        raise NotImplementedError

    # -- event delivery barriers --------------------------------------------------
    async def barrier_async(self) -> None:
        raise NotImplementedError

    def barrier_sync(self) -> None:
        raise NotImplementedError

    # -- concurrency --------------------------------------------------------------
    def spawn(self, coro: Any) -> Any:
        """What to hand asyncio.gather for one concurrent task."""
        raise NotImplementedError


class Ours(Adapter):
    package = "ours"
    notes = {
        "tool_fn": "returns the JSON value",
        "flush": "subscribers.flush() (delivery is synchronous; nothing buffers here)",
        "exec": "async fn(name, args, next) -> await next(args)",
        "gather": "asyncio.gather(coro, ...)",
    }

    def __init__(self) -> None:
        import nemo_relay

        self.nr = nemo_relay
        self.version = nemo_relay.__version__
        self.module_file = nemo_relay.__file__
        self.execute = nemo_relay.tools.execute
        self.execute_sync = nemo_relay.tools.execute_sync
        self.push = nemo_relay.scope.push
        self.pop = nemo_relay.scope.pop
        self.scope_cm = nemo_relay.scope.scope
        self.function_scope_type = nemo_relay.ScopeType.Function

    def tool_fn_async(self) -> Callable[[Any], Any]:
        async def tool(args: Any) -> Any:
            return {"ok": True}

        return tool

    def tool_fn_sync(self) -> Callable[[Any], Any]:
        def tool(args: Any) -> Any:
            return {"ok": True}

        return tool

    def execution_intercept(self) -> Callable[..., Any]:
        async def exec_intercept(name: str, args: Any, next_: Callable[[Any], Any]) -> Any:
            return await next_(args)

        return exec_intercept

    def sync_execution_intercept(self) -> Callable[..., Any]:
        def exec_intercept(name: str, args: Any, next_: Callable[[Any], Any]) -> Any:
            return next_(args)

        return exec_intercept

    async def barrier_async(self) -> None:
        self.nr.subscribers.flush()

    def barrier_sync(self) -> None:
        self.nr.subscribers.flush()

    def spawn(self, coro: Any) -> Any:
        return coro

    # -- native plugins (ours only) ---------------------------------------------
    def dynamic_spec(self, manifest: str) -> Any:
        return self.nr.plugin.DynamicPluginActivationSpec("bench_chain", "native", manifest)

    async def activate_native_chain(self, manifest: str) -> Any:
        return await self.nr.plugin.initialize_with_dynamic_plugins(None, [self.dynamic_spec(manifest)])


class Upstream(Adapter):
    package = "upstream"
    notes = {
        "tool_fn": "returns ToolExecutionResult(value); execute returns it",
        "flush": "await subscribers.flush_async() / subscribers.flush() in the timed region "
                 "(delivery is queued on a dispatcher thread)",
        "exec": "async fn(ctx, next) -> ToolExecutionInterceptOutcome((await next(ctx.args)).result)",
        "gather": "asyncio.create_task(coro, context=fork_asyncio_context())",
    }

    def __init__(self) -> None:
        import importlib
        import importlib.metadata

        nemo_relay: Any = importlib.import_module("nemo_relay")
        self.nr = nemo_relay
        self.version = importlib.metadata.version("nemo-relay")
        self.module_file = nemo_relay.__file__
        self.execute = nemo_relay.tools.execute
        self.execute_sync = None  # 0.10.4 has no sync twin of tools.execute
        self.push = nemo_relay.scope.push
        self.pop = nemo_relay.scope.pop
        self.scope_cm = nemo_relay.scope.scope
        self.function_scope_type = nemo_relay.ScopeType.Function
        self._Result = nemo_relay.ToolExecutionResult
        self._Outcome = nemo_relay.ToolExecutionInterceptOutcome

    def tool_fn_async(self) -> Callable[[Any], Any]:
        Result = self._Result

        async def tool(args: Any) -> Any:
            return Result({"ok": True})

        return tool

    def tool_fn_sync(self) -> Callable[[Any], Any]:
        Result = self._Result

        def tool(args: Any) -> Any:
            return Result({"ok": True})

        return tool

    def result_value(self, result: Any) -> Any:
        return result.result

    def execution_intercept(self) -> Callable[..., Any]:
        Outcome = self._Outcome

        async def exec_intercept(ctx: Any, next_: Callable[[Any], Any]) -> Any:
            r = await next_(ctx.args)
            return Outcome(r.result, annotation=r.annotation)

        return exec_intercept

    async def barrier_async(self) -> None:
        await self.nr.subscribers.flush_async()

    def barrier_sync(self) -> None:
        self.nr.subscribers.flush()

    def spawn(self, coro: Any) -> Any:
        return asyncio.create_task(coro, context=self.nr.fork_asyncio_context())


ADAPTERS = {"ours": Ours, "upstream": Upstream}


def get(name: str) -> Adapter:
    return ADAPTERS[name]()
