"""nemo_relay for LangChain: a callback handler that records LangChain runs
(chains, chat models, tools, retrievers) as scopes and calls, and agent
middleware that routes a LangChain 1.x agent's model and tool calls through
``llm.execute`` / ``tools.execute`` so guardrails, intercepts and plugins
apply to them.

Needs the ``langchain`` extra: ``pip install 'nemo-relay[langchain]'``.
"""

from __future__ import annotations

from .._require import require

require("langchain_core", "langchain")
require("langchain.agents.middleware", "langchain")

from .callbacks import NemoRelayCallbackHandler  # noqa: E402
from .middleware import NemoRelayMiddleware  # noqa: E402

__all__ = ["NemoRelayCallbackHandler", "NemoRelayMiddleware"]
