"""nemo_relay for LangGraph: graph and node runs as scopes, model and tool
calls as managed calls.

- ``NemoRelayCallbackHandler``: pass it in ``config={"callbacks": [...]}`` of
  ``invoke``/``ainvoke``/``stream``/``astream``.  The graph run becomes an
  ``Agent`` scope, each node run a ``Function`` scope under it (parallel
  branches each under their own node), chat model and tool runs LLM and tool
  calls; interrupts and resumes are recorded as marks.
- ``managed_tool_node(tools)``: a ``ToolNode`` whose tool calls go through
  ``tools.execute`` (guardrails, intercepts, sanitizers, plugins).
- ``invoke_model`` / ``ainvoke_model``: call a chat model from your own node
  through ``llm.execute``.
- ``NemoRelayMiddleware``: for agents built with ``create_agent``.

Needs the ``langgraph`` extra: ``pip install 'nemo-relay[langgraph]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._require import require

require("langgraph.callbacks", "langgraph")
require("langchain_core", "langgraph")

from ..langchain.callbacks import current_run_scope  # noqa: E402
from .callbacks import NemoRelayCallbackHandler  # noqa: E402
from .calls import ainvoke_model, invoke_model, managed_tool_node  # noqa: E402

if TYPE_CHECKING:
    from ..langchain.middleware import NemoRelayMiddleware

__all__ = [
    "NemoRelayCallbackHandler",
    "NemoRelayMiddleware",
    "ainvoke_model",
    "current_run_scope",
    "invoke_model",
    "managed_tool_node",
]


def __getattr__(name: str) -> object:
    # the middleware needs the `langchain` package, which a LangGraph-only
    # install may not have: import it when it is asked for
    if name == "NemoRelayMiddleware":
        require("langchain.agents.middleware", "langchain")
        from ..langchain.middleware import NemoRelayMiddleware

        return NemoRelayMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
