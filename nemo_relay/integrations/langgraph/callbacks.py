"""The LangChain callback handler plus LangGraph's graph lifecycle callbacks.

Graph runs become ``Agent`` scopes and node runs ``Function`` scopes (the
LangChain handler's rule: the outermost run is the agent); an interrupt and a
resume are recorded as ``Graph Interrupt`` / ``Graph Resume`` marks under the
graph's scope.
"""

from __future__ import annotations

import logging
from typing import Any

from langgraph.callbacks import GraphCallbackHandler, GraphInterruptEvent, GraphResumeEvent

import nemo_relay

from ..langchain._payloads import Json, to_json
from ..langchain.callbacks import NemoRelayCallbackHandler as _LangChainHandler

__all__ = ["NemoRelayCallbackHandler"]

_logger = logging.getLogger(__name__)


class NemoRelayCallbackHandler(_LangChainHandler, GraphCallbackHandler):
    """Record a LangGraph graph's runs (and LangChain runs inside it)."""

    def on_interrupt(self, event: GraphInterruptEvent) -> None:
        self._mark(
            "Graph Interrupt",
            event,
            {"interrupts": [{"id": i.id, "value": to_json(i.value)} for i in event.interrupts]},
        )

    def on_resume(self, event: GraphResumeEvent) -> None:
        self._mark("Graph Resume", event, {})

    def _mark(self, name: str, event: GraphInterruptEvent | GraphResumeEvent, extra: dict[str, Json]) -> None:
        data: dict[str, Json] = {
            "run_id": str(event.run_id) if event.run_id is not None else None,
            "status": event.status,
            "checkpoint_id": event.checkpoint_id,
            "checkpoint_ns": list(event.checkpoint_ns),
            **extra,
        }
        try:
            parent: Any = self.scope_for_run(event.run_id)
            nemo_relay.scope.event(name, handle=parent, data=data, metadata={"integration": "langgraph"})
        except Exception:
            _logger.warning("nemo_relay: could not record a LangGraph %s", name, exc_info=True)
