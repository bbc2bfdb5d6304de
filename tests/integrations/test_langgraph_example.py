"""examples/langgraph_agent.py runs as the README says and writes what it
promises: an ATOF file with the graph's events and no secret in it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("langgraph", reason="needs the 'langgraph' extra")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "langgraph_agent.py"


def test_the_langgraph_example_runs_and_keeps_the_key_out(tmp_path):
    output = tmp_path / "events.jsonl"
    proc = subprocess.run([sys.executable, str(EXAMPLE), str(output)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "answer: It is 18°C and sunny in Paris" in proc.stdout
    assert "    guardrail: no-deletes" in proc.stdout and "    tool: weather" in proc.stdout

    lines = output.read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert f"{len(events)} events written to" in proc.stdout
    assert all(e["atof_version"] == "0.1" for e in events)
    names = {(e["category"], e["name"]) for e in events if e["kind"] == "scope"}
    assert {("agent", "LangGraph"), ("function", "tools"), ("tool", "weather")} <= names
    assert ("tool", "delete_files") not in names
    assert "sk-live" not in output.read_text()
    tool_start = next(e for e in events if e["name"] == "weather" and e["scope_category"] == "start")
    assert tool_start["data"]["api_key"] != "sk-live-123"
