"""Attributes both span mappings share (upstream's ``nemo_relay.*`` keys)."""

from __future__ import annotations

from typing import Any

from . import _llm_view as lv

_SCOPE_TYPES = {"agent", "function", "tool", "llm", "retriever", "embedder", "reranker",
                "guardrail", "evaluator", "custom"}


def scope_type(ev: dict[str, Any]) -> str:
    c = ev.get("category")
    return c if c in _SCOPE_TYPES else "unknown"


def identity(ev: dict[str, Any]) -> dict[str, Any]:
    return {"nemo_relay.uuid": ev["uuid"], "nemo_relay.parent_uuid": ev.get("parent_uuid") or "",
            "nemo_relay.scope_type": scope_type(ev)}


def handle_attributes(ev: dict[str, Any]) -> dict[str, Any]:
    attrs = ev.get("attributes")
    return {"nemo_relay.handle_attributes_json": lv.compact(attrs)} if attrs else {}


def mark(ev: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"nemo_relay.mark.uuid": ev["uuid"],
                           "nemo_relay.mark.parent_uuid": ev.get("parent_uuid") or ""}
    if ev.get("data") is not None:
        out["nemo_relay.mark.data_json"] = lv.compact(ev["data"])
    if ev.get("metadata") is not None:
        out["nemo_relay.mark.metadata_json"] = lv.compact(ev["metadata"])
    return out


def orphan_mark(ev: dict[str, Any]) -> dict[str, Any]:
    return {**mark(ev), "nemo_relay.mark.orphan": True}


def is_llm(ev: dict[str, Any]) -> bool:
    return ev.get("category") == "llm"


def is_tool(ev: dict[str, Any]) -> bool:
    return ev.get("category") == "tool"
