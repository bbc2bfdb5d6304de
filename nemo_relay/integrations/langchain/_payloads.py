"""Turn LangChain objects into JSON for the record, and messages back.

Messages travel through the managed pipeline in LangChain's own dict form
(``messages_to_dict``: ``{"type": ..., "data": {...}}``) so an intercept's
edit converts back losslessly; everything else is recorded best-effort.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict
from pydantic import BaseModel

from ..._types import Json as Json  # re-exported for the integration modules

# keep the record readable when a payload nests without end
_MAX_DEPTH = 64


def to_json(value: Any, _depth: int = 0) -> Json:
    """A JSON-compatible copy of ``value``: messages in LangChain's dict form,
    pydantic models dumped, dataclasses as dicts, anything else as its repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if _depth > _MAX_DEPTH:
        return repr(value)
    d = _depth + 1
    if isinstance(value, BaseMessage):
        return to_json(message_to_dict(value), d)
    if isinstance(value, Mapping):
        return {str(k): to_json(v, d) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v, d) for v in value]
    if isinstance(value, Document):
        return {"page_content": value.page_content, "metadata": to_json(value.metadata, d)}
    if isinstance(value, BaseModel):
        try:
            return to_json(value.model_dump(mode="json"), d)
        except Exception:
            return repr(value)
    if _is_command(value):
        return {
            "type": "command",
            "graph": to_json(value.graph, d),
            "update": to_json(value.update, d),
            "resume": to_json(value.resume, d),
            "goto": to_json(value.goto, d),
        }
    if _is_send(value):
        return {"type": "send", "node": value.node, "arg": to_json(value.arg, d)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name), d) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_json(value.value, d)
    if isinstance(value, (uuid.UUID, datetime.datetime, datetime.date)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)


def _is_command(value: Any) -> bool:
    # LangGraph is optional for the LangChain integration: compare by name
    return type(value).__name__ == "Command" and type(value).__module__.startswith("langgraph.")


def _is_send(value: Any) -> bool:
    return type(value).__name__ == "Send" and type(value).__module__.startswith("langgraph.")


def messages_to_json(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Messages in LangChain's dict form (JSON-compatible)."""
    return [to_json(message_to_dict(m)) for m in messages]


def messages_from_json(data: Any) -> list[BaseMessage]:
    """Messages back from their dict form; a TypeError/ValueError names the problem."""
    if not isinstance(data, list):
        raise TypeError(f"expected a list of LangChain message dicts, not {type(data).__name__}")
    return messages_from_dict(data)


def model_name(model: Any) -> str | None:
    """The model's name as its provider knows it, when the model says."""
    for attr in ("model_name", "model", "model_id", "deployment_name"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def tool_names(tools: Sequence[Any]) -> list[Json]:
    """What the model was offered: a BaseTool's name and description, a dict as is."""
    out: list[Json] = []
    for t in tools:
        name = getattr(t, "name", None)
        if isinstance(name, str):
            out.append({"name": name, "description": getattr(t, "description", None)})
        else:
            out.append(to_json(t))
    return out
