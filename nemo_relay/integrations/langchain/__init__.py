"""nemo_relay for LangChain: a callback handler that records LangChain runs
(chains, chat models, tools, retrievers) as scopes and calls, and agent
middleware that routes a LangChain 1.x agent's model and tool calls through
``llm.execute`` / ``tools.execute`` so guardrails, intercepts and plugins
apply to them.

Needs the ``langchain`` extra: ``pip install 'nemo-relay[langchain]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._require import require

require("langchain_core", "langchain")

from .callbacks import NemoRelayCallbackHandler, current_run_scope  # noqa: E402

if TYPE_CHECKING:
    from .middleware import NemoRelayMiddleware

__all__ = ["NemoRelayCallbackHandler", "NemoRelayMiddleware", "current_run_scope"]


def __getattr__(name: str) -> object:
    # the middleware needs the `langchain` package itself; the callback handler
    # only langchain-core (which a LangGraph-only install has)
    if name == "NemoRelayMiddleware":
        require("langchain.agents.middleware", "langchain")
        from .middleware import NemoRelayMiddleware

        return NemoRelayMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
