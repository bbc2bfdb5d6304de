"""A LangChain callback handler that records LangChain runs as scopes and calls.

Pass it in ``config={"callbacks": [NemoRelayCallbackHandler()]}`` (or to a
runnable's ``with_config``).  Chains and agents become scopes (the outermost
run an ``Agent`` scope, nested chains ``Function`` scopes), chat model and
LLM runs become LLM calls, tool runs tool calls, retriever runs
``Retriever`` scopes; parents follow LangChain's run tree.  A failed run ends
with ``otel.status_code`` ERROR; streamed tokens are recorded as ``llm.chunk``
marks parented to their call.

The handler observes: guardrails and intercepts do not apply to what it
records.  To route model and tool calls through them, add
``NemoRelayMiddleware`` to the agent; calls the middleware manages are
recorded once, by the middleware.

Scopes are recorded with explicit parents and never left current in the
caller's context: LangChain ends async runs from a copy of the context, where
a pop could not restore the caller's scope chain.  So code inside a run sees
the scope that was current when the run tree started; ``current_run_scope()``
gives the scope of the innermost LangChain run (the middleware parents its
managed calls with it).  Recording never breaks the run: a failure is logged
and the run goes on.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.runnables.config import var_child_runnable_config

import nemo_relay
from nemo_relay import LLMHandle, LLMRequest, ScopeHandle, ScopeStack, ScopeType, ToolHandle

from . import _managed
from ._codec import CODEC
from ._payloads import Json, messages_to_json, to_json

__all__ = ["NemoRelayCallbackHandler", "current_run_scope"]

_logger = logging.getLogger(__name__)

# LangGraph marks its internal runnables (channel writes, routing) with this tag
_HIDDEN_TAG = "langsmith:hidden"

RunKind = Literal["scope", "llm", "tool", "hidden", "managed"]
AnyHandle = ScopeHandle | LLMHandle | ToolHandle


@dataclass(slots=True)
class _Run:
    kind: RunKind
    #: the scope or call this run recorded (None for hidden and managed runs)
    handle: AnyHandle | None
    #: what a child run is parented to (None: the scope current when it starts)
    parent_for_children: AnyHandle | None
    #: the private stack a scope was pushed on (popped from it in any context)
    stack: ScopeStack | None = None


def _ok() -> dict[str, str]:
    return {"otel.status_code": "OK"}


def _failed(error: BaseException) -> dict[str, str]:
    # LangGraph ends a run with a GraphBubbleUp subclass (GraphInterrupt,
    # ParentCommand) to pause or redirect it: that is control flow, not a
    # failure; so is a cancellation (like scope.scope, a BaseException is UNSET)
    if not isinstance(error, Exception) or any(c.__name__ == "GraphBubbleUp" for c in type(error).__mro__):
        return {"otel.status_code": "UNSET", "otel.status_description": type(error).__name__}
    return {"otel.status_code": "ERROR", "otel.status_description": str(error) or type(error).__name__}


def _run_name(serialized: dict[str, Any] | None, kwargs: dict[str, Any], default: str) -> str:
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        return name
    if serialized:
        name = serialized.get("name")
        if isinstance(name, str) and name:
            return name
        ids = serialized.get("id")
        if isinstance(ids, list) and ids and isinstance(ids[-1], str):
            return ids[-1]
    return default


def _llm_name(serialized: dict[str, Any] | None, metadata: dict[str, Any] | None, kwargs: dict[str, Any]) -> str:
    params = kwargs.get("invocation_params")
    for source, key in ((metadata, "ls_model_name"), (params, "model"), (params, "model_name")):
        if isinstance(source, dict):
            value = source.get(key)
            if isinstance(value, str) and value:
                return value
    return _run_name(serialized, kwargs, "llm")


def _run_metadata(run_id: UUID, tags: list[str] | None, metadata: dict[str, Any] | None) -> dict[str, Json]:
    out: dict[str, Json] = {"langchain_run_id": str(run_id)}
    if tags:
        out["langchain_tags"] = list(tags)
    if metadata:
        for key, value in metadata.items():
            out.setdefault(str(key), to_json(value))
    return out


def _generation_json(response: LLMResult) -> tuple[Json, bool]:
    """The first generation (one prompt per run in LangChain 1.x) as JSON, and
    whether it is a chat result (``{"messages": [...]}``, the codec's shape)."""
    if not response.generations or not response.generations[0]:
        return to_json(response.llm_output), False
    first = response.generations[0][0]
    if isinstance(first, ChatGeneration):
        return {"messages": messages_to_json([first.message])}, True
    return {"text": first.text, "generation_info": to_json(first.generation_info)}, False


class NemoRelayCallbackHandler(BaseCallbackHandler):
    """Record LangChain runs as nemo_relay scopes, LLM calls and tool calls."""

    # Inline, in the run's own context: scopes are pushed onto (and popped
    # from) the scope chain of the code that runs them.
    run_inline = True
    raise_error = False

    def __init__(self, *, sanitize: Callable[[Json], Json] | None = None) -> None:
        """``sanitize``, when given, rewrites every payload the handler records
        (chain inputs and outputs, prompts, tool inputs, results, tokens)
        before it is recorded; registered tool and LLM sanitizers still apply
        to the calls on top.  Like those, it fails closed: if it raises, the
        payload is recorded as null and a RuntimeWarning names the error."""
        super().__init__()
        if sanitize is not None and not callable(sanitize):
            raise TypeError(f"sanitize must be callable, not {type(sanitize).__name__}")
        self._sanitize = sanitize
        self._runs: dict[UUID, _Run] = {}
        self._lock = threading.Lock()

    def _clean(self, payload: Json) -> Json:
        if self._sanitize is None or payload is None:
            return payload
        try:
            return self._sanitize(payload)
        except Exception as e:
            warnings.warn(f"nemo_relay: the callback handler's sanitize failed ({e!r}); the recorded payload is null",
                          RuntimeWarning, stacklevel=2)
            return None

    @property
    def open_runs(self) -> int:
        """How many runs started and have not ended yet (0 after a run tree ends)."""
        with self._lock:
            return len(self._runs)

    def scope_for_run(self, run_id: UUID | None) -> AnyHandle | None:
        """The scope or call recorded for ``run_id`` (or for its nearest
        recorded ancestor), or None if this handler does not know the run."""
        return self._parent(run_id)

    # ---- bookkeeping ----------------------------------------------------------------

    def _parent(self, parent_run_id: UUID | None) -> AnyHandle | None:
        if parent_run_id is None:
            return None
        with self._lock:
            run = self._runs.get(parent_run_id)
        return run.parent_for_children if run is not None else None

    def _add(self, run_id: UUID, run: _Run) -> None:
        with self._lock:
            self._runs[run_id] = run

    def _take(self, run_id: UUID) -> _Run | None:
        with self._lock:
            return self._runs.pop(run_id, None)

    def _is_root(self, parent_run_id: UUID | None) -> bool:
        if parent_run_id is None:
            return True
        with self._lock:
            return parent_run_id not in self._runs

    def _start_scope(
        self,
        name: str,
        scope_type: ScopeType,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: dict[str, Any] | None,
        input: Json,
    ) -> None:
        parent = self._parent(parent_run_id)
        if tags and _HIDDEN_TAG in tags:
            self._add(run_id, _Run("hidden", None, parent))
            return
        try:
            # a private stack: the scope is never current in the caller's context
            stack = nemo_relay.create_scope_stack()
            under = parent if parent is not None else nemo_relay.scope.get_handle()
            with nemo_relay.use_scope_stack(stack):
                handle = nemo_relay.scope.push(
                    name,
                    scope_type,
                    handle=under,  # type: ignore[arg-type]  # any handle can parent a scope
                    input=self._clean(input),
                    metadata=_run_metadata(run_id, tags, metadata),
                )
        except Exception:
            _logger.warning("nemo_relay: could not record the start of LangChain run %r", name, exc_info=True)
            self._add(run_id, _Run("hidden", None, parent))
            return
        self._add(run_id, _Run("scope", handle, handle, stack))

    def _end(self, run_id: UUID, output: Json, status: dict[str, str], *, annotate: bool = False) -> None:
        run = self._take(run_id)
        if run is None or run.handle is None:
            return
        output = self._clean(output)
        try:
            if isinstance(run.handle, ScopeHandle):
                assert run.stack is not None
                with nemo_relay.use_scope_stack(run.stack):
                    nemo_relay.scope.pop(run.handle, output=output, metadata=status)
            elif isinstance(run.handle, LLMHandle):
                # the annotated response comes from the output as recorded
                codec = CODEC if annotate and output is not None else None
                nemo_relay.llm.call_end(run.handle, output, metadata=status, response_codec=codec)
            else:
                nemo_relay.tools.call_end(run.handle, output, metadata=status)
        except Exception:
            _logger.warning("nemo_relay: could not record the end of LangChain run %s", run_id, exc_info=True)

    # ---- chains (agents, graphs, graph nodes, sequences) -------------------------------

    def chain_scope_type(self, name: str, *, root: bool, metadata: dict[str, Any] | None) -> ScopeType:
        """The scope type of a chain run: ``Agent`` for the outermost run,
        ``Function`` for nested ones.  Override to classify differently."""
        return ScopeType.Agent if root else ScopeType.Function

    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = _run_name(serialized, kwargs, "chain")
        scope_type = self.chain_scope_type(name, root=self._is_root(parent_run_id), metadata=metadata)
        self._start_scope(name, scope_type, run_id, parent_run_id, tags, metadata, to_json(inputs))

    def on_chain_end(
        self, outputs: dict[str, Any], *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._end(run_id, to_json(outputs), _ok())

    def on_chain_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._end(run_id, {"error": repr(error)}, _failed(error))

    # ---- retrievers ---------------------------------------------------------------------

    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = _run_name(serialized, kwargs, "retriever")
        self._start_scope(name, ScopeType.Retriever, run_id, parent_run_id, tags, metadata, {"query": query})

    def on_retriever_end(
        self, documents: Sequence[Document], *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._end(run_id, to_json(list(documents)), _ok())

    def on_retriever_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._end(run_id, {"error": repr(error)}, _failed(error))

    # ---- custom events --------------------------------------------------------------------

    def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """``dispatch_custom_event(name, data)`` inside a run: a mark named
        ``name`` under that run's scope."""
        try:
            parent: Any = self._parent(run_id)
            nemo_relay.scope.event(name, handle=parent, data=self._clean(to_json(data)),
                                   metadata={"langchain_run_id": str(run_id)})
        except Exception:
            _logger.warning("nemo_relay: could not record custom event %r", name, exc_info=True)

    # ---- chat models and LLMs -----------------------------------------------------------

    def _start_llm(
        self,
        name: str,
        content: Json,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: dict[str, Any] | None,
        codec: Any = None,
    ) -> None:
        parent = self._parent(parent_run_id)
        if _managed.take("llm"):
            self._add(run_id, _Run("managed", None, parent))
            return
        try:
            handle = nemo_relay.llm.call(
                name,
                LLMRequest({}, self._clean(content)),
                handle=parent,  # type: ignore[arg-type]  # any handle can parent a call
                model_name=name,
                metadata=_run_metadata(run_id, tags, metadata),
                codec=codec,
            )
        except Exception:
            _logger.warning("nemo_relay: could not record the start of LLM run %r", name, exc_info=True)
            self._add(run_id, _Run("hidden", None, parent))
            return
        self._add(run_id, _Run("llm", handle, handle))

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        prompt = messages[0] if len(messages) == 1 else [m for batch in messages for m in batch]
        content: dict[str, Json] = {"messages": messages_to_json(prompt)}
        params = kwargs.get("invocation_params")
        if params:
            content["invocation_params"] = to_json(params)
        name = _llm_name(serialized, metadata, kwargs)
        # chat messages have an annotated view (a completion prompt has none)
        self._start_llm(name, content, run_id, parent_run_id, tags, metadata, codec=CODEC)

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        content: dict[str, Json] = {"prompts": list(prompts)}
        params = kwargs.get("invocation_params")
        if params:
            content["invocation_params"] = to_json(params)
        name = _llm_name(serialized, metadata, kwargs)
        self._start_llm(name, content, run_id, parent_run_id, tags, metadata)

    def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        with self._lock:
            run = self._runs.get(run_id)
        if run is None or run.kind == "hidden":
            return
        data: dict[str, Json] = {"token": to_json(token)}
        tool_chunks = getattr(getattr(chunk, "message", None), "tool_call_chunks", None)
        if tool_chunks:
            data["tool_call_chunks"] = to_json(tool_chunks)
        try:
            # a managed call's chunks go under the run's parent (the graph node)
            parent = run.handle if run.handle is not None else run.parent_for_children
            nemo_relay.scope.event("llm.chunk", handle=parent, data=self._clean(data))  # type: ignore[arg-type]
        except Exception:
            _logger.warning("nemo_relay: could not record a streamed token", exc_info=True)

    def on_llm_end(
        self, response: LLMResult, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        output, chat = _generation_json(response)
        self._end(run_id, output, _ok(), annotate=chat)

    def on_llm_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._end(run_id, None, _failed(error))

    # ---- tools ------------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        parent = self._parent(parent_run_id)
        if _managed.take("tool"):
            self._add(run_id, _Run("managed", None, parent))
            return
        name = _run_name(serialized, kwargs, "tool")
        call_id = kwargs.get("tool_call_id")
        try:
            handle = nemo_relay.tools.call(
                name,
                self._clean(to_json(inputs) if inputs is not None else input_str),
                handle=parent,  # type: ignore[arg-type]  # any handle can parent a call
                tool_call_id=call_id if isinstance(call_id, str) else None,
                metadata=_run_metadata(run_id, tags, metadata),
            )
        except Exception:
            _logger.warning("nemo_relay: could not record the start of tool run %r", name, exc_info=True)
            self._add(run_id, _Run("hidden", None, parent))
            return
        self._add(run_id, _Run("tool", handle, handle))

    def on_tool_end(self, output: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._end(run_id, to_json(output), _ok())

    def on_tool_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._end(run_id, None, _failed(error))


def current_run_scope() -> AnyHandle | None:
    """The scope a ``NemoRelayCallbackHandler`` recorded for the innermost
    LangChain run of the calling code (a graph node, a chain, a tool), or None
    outside a run or when no such handler is attached to it.  Pass it as
    ``handle=`` to parent your own scopes and calls under that run."""
    config = var_child_runnable_config.get()
    if not config:
        return None
    manager = config.get("callbacks")
    run_id = getattr(manager, "parent_run_id", None)
    if run_id is None:
        return None
    for handler in getattr(manager, "handlers", None) or ():
        if isinstance(handler, NemoRelayCallbackHandler):
            scope = handler.scope_for_run(run_id)
            if scope is not None:
                return scope
    return None


def run_parent() -> ScopeHandle | None:
    """``current_run_scope()`` typed as the ``handle=`` argument of a managed
    call (the runtime takes any handle as a parent)."""
    return cast("ScopeHandle | None", current_run_scope())
