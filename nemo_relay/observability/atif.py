"""AtifExporter: the events of an agent run as an ATIF trajectory (Agent
Trajectory Interchange Format, schema ``ATIF-v1.7``).

Steps come from LLM and tool scopes, in the order they happened:

- an LLM start is a ``user`` step: the last user message of the request;
- an LLM end is an ``agent`` step: the response text, the tool calls it asked
  for, the model, token metrics (prompt, completion, cached, cost in USD) and
  ``llm_call_count`` 1;
- a tool end is an observation (``source_call_id``, ``content``) on the agent
  step that asked for the call (matched by ``tool_call_id`` when the event
  carries one, else by tool name); a tool nobody asked for becomes a
  ``system`` step holding its observation.

``final_metrics`` sums the steps' metrics.  Events are collected by a
background thread like every exporter's (SPEC D13); ``export()`` waits for
what is queued, then builds the trajectory.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

from . import _llm_view as lv
from ._drain import Drain

__all__ = ["ATIF_SCHEMA_VERSION", "AtifExporter", "build_trajectory"]

ATIF_SCHEMA_VERSION = "ATIF-v1.7"


def _parse_arguments(text: str | None) -> Any:
    if text is None:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return text


def _user_message(ev: dict[str, Any], req: lv.RequestView | None) -> Any:
    if req is not None:
        for m in reversed(req.messages):
            if m.role == "user":
                return m.content if m.content is not None else ""
    data = ev.get("data")
    content = data.get("content") if isinstance(data, dict) and "headers" in data else data
    if isinstance(content, dict) and "prompt" in content:
        return content["prompt"]
    return content if isinstance(content, str) else lv.compact(content)


def _ancestry(ev: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    a: dict[str, Any] = {"function_id": ev["uuid"], "function_name": ev["name"]}
    parent = ev.get("parent_uuid")
    if parent:
        a["parent_id"] = parent
        if parent in names:
            a["parent_name"] = names[parent]
    return a


def _metrics(resp: lv.ResponseView | None) -> dict[str, Any] | None:
    u = resp.usage if resp is not None else None
    if u is None:
        return None
    m: dict[str, Any] = {}
    if u.prompt_tokens is not None:
        m["prompt_tokens"] = u.prompt_tokens
    if u.completion_tokens is not None:
        m["completion_tokens"] = u.completion_tokens
    if u.cache_read_tokens is not None:
        m["cached_tokens"] = u.cache_read_tokens
    if u.cost_total is not None and (u.cost_currency or "USD") == "USD":
        m["cost_usd"] = u.cost_total
    return m or None


def build_trajectory(events: Sequence[dict[str, Any]], *, session_id: str, agent: dict[str, Any]) -> dict[str, Any]:
    """An ATIF trajectory from events (``to_dict()`` form) in emission order."""
    names: dict[str, str] = {}
    starts: dict[str, dict[str, Any]] = {}
    steps: list[dict[str, Any]] = []
    seen_tools: dict[str, dict[str, Any]] = {}
    models: list[str] = []
    # open tool calls of agent steps: (step, call id, function name, answered?)
    calls: list[dict[str, Any]] = []

    def observe(ev: dict[str, Any]) -> None:
        call_id = lv.tool_call_id(ev)
        match = None
        for c in reversed(calls):  # the latest agent step that asked first
            if c["answered"]:
                continue
            if (call_id is not None and c["id"] == call_id) or (call_id is None and c["name"] == ev["name"]):
                match = c
                break
        result: dict[str, Any] = {"content": ev.get("data")}
        if match is not None:
            match["answered"] = True
            result = {"source_call_id": match["id"], **result}
            match["step"].setdefault("observation", {"results": []})["results"].append(result)
            return
        steps.append({"source": "system", "message": "", "timestamp": ev["timestamp"],
                      "observation": {"results": [result]}})

    for ev in events:
        if ev.get("kind") != "scope":
            continue
        uuid = ev["uuid"]
        names[uuid] = ev["name"]
        category = ev.get("category")
        if ev.get("scope_category") == "start":
            starts[uuid] = ev
            if category == "llm":
                req = lv.request_view(ev)
                for t in req.tools if req is not None else []:
                    seen_tools.setdefault(t.name, t.as_json())
                data = ev.get("data")
                request = data.get("content") if isinstance(data, dict) and "headers" in data else data
                steps.append({"source": "user", "message": _user_message(ev, req),
                              "timestamp": ev["timestamp"],
                              "extra": {"ancestry": _ancestry(ev, names), "llm_request": request}})
            continue
        start = starts.pop(uuid, ev)
        if category == "llm":
            resp = lv.response_view(ev)
            model = lv.model_name(ev, lv.request_view(start), resp) or lv.model_name(start, lv.request_view(start), None)
            step: dict[str, Any] = {"source": "agent",
                                    "message": (resp.text if resp is not None and resp.text is not None else ""),
                                    "timestamp": ev["timestamp"]}
            if model:
                step["model_name"] = model
                models.append(model)
            if resp is not None and resp.tool_calls:
                step["tool_calls"] = []
                for i, c in enumerate(resp.tool_calls):
                    cid = c.id or f"call_{uuid[-12:]}_{i}"
                    step["tool_calls"].append({"tool_call_id": cid, "function_name": c.name or "",
                                               "arguments": _parse_arguments(c.arguments)})
                    calls.append({"step": step, "id": cid, "name": c.name, "answered": False})
            metrics = _metrics(resp)
            if metrics:
                step["metrics"] = metrics
            step["llm_call_count"] = 1
            steps.append(step)
        elif category == "tool":
            observe(ev)

    for i, step in enumerate(steps, 1):
        step["step_id"] = i
    ordered = [{"step_id": s.pop("step_id"), **s} for s in steps]
    totals: dict[str, Any] = {}
    for key, total in (("prompt_tokens", "total_prompt_tokens"),
                       ("completion_tokens", "total_completion_tokens"),
                       ("cached_tokens", "total_cached_tokens"), ("cost_usd", "total_cost_usd")):
        vals = [s["metrics"][key] for s in ordered if key in s.get("metrics", {})]
        if vals:
            totals[total] = sum(vals)
    totals["total_steps"] = len(ordered)
    agent_info = dict(agent)
    if agent_info.get("model_name") is None and models:
        agent_info["model_name"] = models[0]
    if agent_info.get("tool_definitions") is None and seen_tools:
        agent_info["tool_definitions"] = list(seen_tools.values())
    agent_info = {k: v for k, v in agent_info.items() if v is not None}
    return {"schema_version": ATIF_SCHEMA_VERSION, "session_id": session_id, "agent": agent_info,
            "steps": ordered, "final_metrics": totals}


class AtifExporter:
    """Collects events and exports them as one ATIF trajectory.

    ``register(name)`` subscribes it; ``export()`` / ``export_json()``
    return the trajectory of everything collected so far; ``clear()`` forgets
    the collected events (the registration stays)."""

    def __init__(self, session_id: str, agent_name: str, agent_version: str, *,
                 model_name: str | None = None, tool_definitions: list[dict[str, Any]] | None = None,
                 extra: Any = None, queue_capacity: int = 8192) -> None:
        for what, v in (("session_id", session_id), ("agent_name", agent_name),
                        ("agent_version", agent_version)):
            if not isinstance(v, str):
                raise TypeError(f"{what} must be a str, not {type(v).__name__}")
        if tool_definitions is not None and not (
                isinstance(tool_definitions, list) and all(isinstance(t, dict) for t in tool_definitions)):
            raise TypeError("tool_definitions must be a list of dicts")
        json.dumps(extra)  # must be JSON (raises TypeError otherwise)
        self.session_id = session_id
        self._agent = {"name": agent_name, "version": agent_version, "model_name": model_name,
                       "tool_definitions": tool_definitions, "extra": extra}
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._drain = Drain("ATIF exporter", self._collect, capacity=queue_capacity)

    def _collect(self, events: Sequence[Any]) -> None:
        dicts = [ev.to_dict() for ev in events]
        with self._lock:
            self._events.extend(dicts)

    @property
    def dropped_events(self) -> int:
        return self._drain.dropped

    def register(self, name: str) -> None:
        """Collect every event as the global subscriber ``name``."""
        self._drain.register(name)

    def deregister(self, name: str) -> bool:
        """Stop collecting as ``name``; whether it was registered."""
        return self._drain.deregister(name)

    def export(self) -> dict[str, Any]:
        """The trajectory of the events collected so far."""
        self._drain.flush()
        with self._lock:
            events = list(self._events)
        return build_trajectory(events, session_id=self.session_id, agent=self._agent)

    def export_json(self) -> str:
        """``export()`` as JSON text."""
        return json.dumps(self.export(), ensure_ascii=False)

    def clear(self) -> None:
        """Forget the collected events."""
        self._drain.flush()
        with self._lock:
            self._events.clear()

    def __repr__(self) -> str:
        return f"<AtifExporter session_id={self.session_id!r}>"
