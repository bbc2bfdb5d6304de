"""AtofExporter: ATOF JSON Lines to a file and to HTTP endpoints, written by a
background thread; the same lines as the bundled native atof_file plugin."""

from __future__ import annotations

import json
import os
import threading
import warnings

import pytest

import nemo_relay
from nemo_relay import ScopeType, plugin, scope, subscribers, tools
from nemo_relay.observability import _drain
from nemo_relay.plugins import manifest

from local_http import LocalHTTPServer


def config_for(tmp_path, filename="events.jsonl", mode=None, endpoints=()):
    cfg = nemo_relay.AtofExporterConfig()
    cfg.output_directory = str(tmp_path)
    cfg.filename = filename
    if mode is not None:
        cfg.mode = mode
    cfg.endpoints = list(endpoints)
    return cfg


@pytest.fixture
def exporters():
    made: list[nemo_relay.AtofExporter] = []

    def make(cfg, **kw):
        e = nemo_relay.AtofExporter(cfg, **kw)
        made.append(e)
        return e

    yield make
    for e in made:
        try:
            e.shutdown()
        except RuntimeError:
            pass


@pytest.fixture
def server():
    s = LocalHTTPServer().start()
    yield s
    s.stop()


def run_agent() -> None:
    with scope.scope("agent", ScopeType.Agent, metadata={"session": "s1"}):
        tools.execute_sync("weather", {"city": "Paris"}, lambda a: {"t": 18})
        scope.event("checkpoint", data={"step": 1})


def read_lines(path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def test_writes_every_event_as_one_line(tmp_path, exporters):
    exp = exporters(config_for(tmp_path))
    assert exp.path == str(tmp_path / "events.jsonl")
    exp.register("atof")
    try:
        run_agent()
    finally:
        assert exp.deregister("atof") is True
    assert exp.deregister("atof") is False
    exp.force_flush()
    events = [json.loads(line) for line in read_lines(exp.path)]
    assert [(e["kind"], e.get("scope_category"), e["name"]) for e in events] == [
        ("scope", "start", "agent"), ("scope", "start", "weather"), ("scope", "end", "weather"),
        ("mark", None, "checkpoint"), ("scope", "end", "agent")]
    assert all(e["atof_version"] == "0.1" for e in events)
    agent = events[0]["uuid"]
    assert events[1]["parent_uuid"] == agent and events[3]["parent_uuid"] == agent
    assert events[0]["metadata"] == {"session": "s1"}


async def test_same_lines_as_the_native_atof_file_plugin(tmp_path, exporters):
    native_path = tmp_path / "native.jsonl"
    exp = exporters(config_for(tmp_path, "python.jsonl"))
    spec = plugin.DynamicPluginActivationSpec("atof_file", "native", manifest("atof_file"),
                                              config={"path": str(native_path)})
    async with await plugin.initialize_with_dynamic_plugins(None, [spec]):
        exp.register("atof")
        try:
            run_agent()
            await tools.execute("lookup", {"q": "ünïcode ✓", "n": 1.5e300}, lambda a: [None, True])
        finally:
            exp.deregister("atof")
    exp.force_flush()
    python_lines = read_lines(exp.path)
    assert len(python_lines) == 7
    assert python_lines == read_lines(native_path)


def test_append_and_overwrite_modes(tmp_path, exporters):
    path = tmp_path / "nested" / "dir" / "e.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"old": true}\n')
    exp = exporters(config_for(path.parent, "e.jsonl"))
    assert exp.path == str(path)
    assert read_lines(path) == ['{"old": true}']  # append keeps the file
    exp.register("atof")
    try:
        scope.event("one")
    finally:
        exp.deregister("atof")
    exp.shutdown()
    assert len(read_lines(path)) == 2

    exporters(config_for(path.parent, "e.jsonl", mode=nemo_relay.AtofExporterMode.Overwrite))
    assert path.read_text() == ""  # truncated once, at creation

    fresh = exporters(config_for(tmp_path / "made" / "here", "x.jsonl"))
    assert os.path.exists(fresh.path)  # the directory is created


def test_default_config():
    cfg = nemo_relay.AtofExporterConfig()
    assert cfg.output_directory == os.getcwd()
    assert cfg.mode is nemo_relay.AtofExporterMode.Append
    assert cfg.filename.startswith("nemo-relay-events-") and cfg.filename.endswith(".jsonl")
    assert cfg.endpoints == []
    ep = nemo_relay.AtofEndpointConfig("http://127.0.0.1:1/x", headers=None)
    assert (ep.transport, ep.headers, ep.timeout_millis, ep.field_name_policy) == (
        "http_post", {}, 3000, "preserve")


@pytest.mark.parametrize("endpoint, message", [
    (nemo_relay.AtofEndpointConfig(""), r"endpoints\[0\]: endpoint url must be non-empty"),
    (nemo_relay.AtofEndpointConfig("ftp://h/x"), "does not support URL scheme 'ftp'"),
    (nemo_relay.AtofEndpointConfig("http://h/x", timeout_millis=0), "timeout_millis must be greater than 0"),
    (nemo_relay.AtofEndpointConfig("ws://h/x", transport="websocket"), "'websocket' is not supported"),
    (nemo_relay.AtofEndpointConfig("http://h/x", transport="carrier-pigeon"), "unknown transport"),
    (nemo_relay.AtofEndpointConfig("http://h/x", field_name_policy="upper"), "unknown field_name_policy"),
    (nemo_relay.AtofEndpointConfig("http://h/x", headers={"a\nb": "c"}), "invalid header"),
])
def test_bad_endpoint_is_refused_before_anything_is_opened(tmp_path, endpoint, message):
    with pytest.raises(ValueError, match=message):
        nemo_relay.AtofExporter(config_for(tmp_path, endpoints=[endpoint]))
    assert not (tmp_path / "events.jsonl").exists()


def test_bad_config_types(tmp_path):
    with pytest.raises(TypeError, match="expects an AtofExporterConfig"):
        nemo_relay.AtofExporter({"filename": "x"})  # type: ignore[arg-type]
    (tmp_path / "a-file").write_text("")
    with pytest.raises(OSError, match="failed to open ATOF output file"):
        nemo_relay.AtofExporter(config_for(tmp_path / "a-file"))  # a file where the directory should be


def test_http_endpoint_receives_every_event(tmp_path, exporters, server):
    ep = nemo_relay.AtofEndpointConfig(server.url + "/ingest", headers={"Authorization": "Bearer t"},
                                       field_name_policy="replace_dots")
    exp = exporters(config_for(tmp_path, endpoints=[ep]))
    exp.register("atof")
    try:
        with scope.scope("agent", ScopeType.Agent, metadata={"a.b": {"c.d": 1}}):
            pass
    finally:
        exp.deregister("atof")
    exp.force_flush()
    lines = [line for r in server.requests for line in r.body.decode().splitlines()]
    assert [json.loads(line)["scope_category"] for line in lines] == ["start", "end"]
    assert json.loads(lines[0])["metadata"] == {"a_b": {"c_d": 1}}
    r = server.requests[0]
    assert r.path == "/ingest"
    assert r.headers["authorization"] == "Bearer t"
    assert r.headers["content-type"] == "application/x-ndjson"
    # the file keeps the canonical names
    assert json.loads(read_lines(exp.path)[0])["metadata"] == {"a.b": {"c.d": 1}}


def test_failing_endpoint_costs_a_warning_and_never_the_file(tmp_path, exporters, server):
    server.status = 503
    exp = exporters(config_for(tmp_path, endpoints=[nemo_relay.AtofEndpointConfig(server.url)]))
    exp.register("atof")
    try:
        scope.event("one")
    finally:
        exp.deregister("atof")
    with pytest.warns(RuntimeWarning, match=r"ATOF endpoint\[0\] .* failed: HTTP Error 503.*1 events not delivered"):
        exp.force_flush()
    assert len(read_lines(exp.path)) == 1
    server.status = 200
    exp.register("atof")
    try:
        scope.event("two")
    finally:
        exp.deregister("atof")
    exp.force_flush()
    assert [json.loads(r.body)["name"] for r in server.requests] == ["two"]


def test_full_queue_drops_counts_and_warns_once(tmp_path):
    entered, release = threading.Event(), threading.Event()
    seen: list[str] = []

    def sink(events):
        entered.set()
        release.wait()
        seen.extend(e.name for e in events)

    drain = _drain.Drain("test exporter", sink, capacity=4)
    drain.register("slow")
    try:
        scope.event("first")
        assert entered.wait(10)           # the drain thread holds "first"
        for i in range(10):               # 4 fit, 6 are dropped; the emitter never waits
            scope.event(f"e{i}")
        assert drain.dropped == 6
        release.set()
        with pytest.warns(RuntimeWarning, match=r"test exporter dropped 6 events: its queue \(capacity 4\) was full") as rec:
            subscribers.flush()
            drain.flush()
        assert len([w for w in rec if "dropped" in str(w.message)]) == 1
    finally:
        release.set()
        drain.close()
    assert seen == ["first", "e0", "e1", "e2", "e3"]
    assert drain.stats()["closed"] is True


def test_sink_error_is_a_warning(tmp_path):
    def sink(events):
        raise OSError("disk on fire")

    drain = _drain.Drain("broken exporter", sink)
    drain.register("broken")
    try:
        scope.event("x")
        with pytest.warns(RuntimeWarning, match="broken exporter failed to export 1 events: disk on fire"):
            assert drain.flush(10) is True
    finally:
        drain.close()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_write_error_is_raised_by_force_flush(exporters):
    cfg = config_for("/dev", "full")  # every write fails with ENOSPC
    exp = exporters(cfg)
    exp.register("atof")
    try:
        scope.event("x")
    finally:
        exp.deregister("atof")
    with pytest.raises(RuntimeError, match="previous ATOF export failed for '/dev/full': .*No space left"):
        exp.force_flush()


def test_shutdown_is_final(tmp_path):
    exp = nemo_relay.AtofExporter(config_for(tmp_path))
    exp.register("atof")
    scope.event("x")
    exp.shutdown()  # deregisters and writes out what is queued
    assert len(read_lines(exp.path)) == 1
    exp.shutdown()
    with pytest.raises(RuntimeError, match="has been shut down"):
        exp.register("atof")


def test_exit_flushes_queued_events(tmp_path):
    import subprocess
    import sys
    code = f"""
import nemo_relay
from nemo_relay import scope
cfg = nemo_relay.AtofExporterConfig()
cfg.output_directory = {str(tmp_path)!r}
cfg.filename = "exit.jsonl"
exp = nemo_relay.AtofExporter(cfg)
exp.register("atof")
for i in range(2000):
    scope.event(f"e{{i}}")
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, timeout=120)
    lines = read_lines(tmp_path / "exit.jsonl")
    assert len(lines) == 2000 and json.loads(lines[-1])["name"] == "e1999"


def test_readme_example_runs(tmp_path):
    import subprocess
    import sys
    from _build import ROOT
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Exporting events", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert [e["name"] for e in lines] == ["agent", "hello", "agent"]
