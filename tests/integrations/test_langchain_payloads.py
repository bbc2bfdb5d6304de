"""What the integration records for LangChain and LangGraph objects."""

from __future__ import annotations

import dataclasses
import enum
import uuid

import pytest

pytest.importorskip("langgraph", reason="needs the 'langgraph' extra")

from langchain_core.documents import Document  # noqa: E402
from langchain_core.messages import HumanMessage, ToolMessage, messages_from_dict  # noqa: E402
from langgraph.types import Command, Send  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from nemo_relay.integrations.langchain._payloads import messages_to_json, to_json  # noqa: E402


class Forecast(BaseModel):
    city: str
    celsius: float


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Color(enum.Enum):
    RED = "red"


def test_langgraph_commands_and_sends():
    command = Command(update={"messages": [ToolMessage("done", tool_call_id="c1", name="task")]}, goto="next")
    out = to_json({"result": command, "fanout": [Send("worker", {"n": 1})]})
    assert out["result"]["type"] == "command"
    assert out["result"]["update"]["messages"][0]["type"] == "tool"
    assert out["result"]["update"]["messages"][0]["data"]["tool_call_id"] == "c1"
    assert out["result"]["goto"] == "next"
    assert out["fanout"] == [{"type": "send", "node": "worker", "arg": {"n": 1}}]


def test_models_dataclasses_documents_and_scalars():
    rid = uuid.uuid4()
    out = to_json({"forecast": Forecast(city="Oslo", celsius=3.5), "point": Point(1, 2), "color": Color.RED,
                   "doc": Document(page_content="text", metadata={"source": "a"}), "id": rid,
                   "tags": ("a", "b"), "raw": b"bytes", "other": object})
    assert out["forecast"] == {"city": "Oslo", "celsius": 3.5}
    assert out["point"] == {"x": 1, "y": 2}
    assert out["color"] == "red"
    assert out["doc"] == {"page_content": "text", "metadata": {"source": "a"}}
    assert out["id"] == str(rid)
    assert out["tags"] == ["a", "b"] and out["raw"] == "bytes"
    assert out["other"] == repr(object)


def test_messages_round_trip_through_their_dict_form():
    messages = [HumanMessage("hi", id="h1"), ToolMessage("ok", tool_call_id="c9")]
    assert messages_from_dict(messages_to_json(messages)) == messages


def test_a_self_nesting_payload_is_cut_off():
    loop: dict[str, object] = {}
    loop["self"] = loop
    out = to_json(loop)
    depth = 0
    while isinstance(out, dict):
        out, depth = out["self"], depth + 1
    assert isinstance(out, str) and depth > 10
