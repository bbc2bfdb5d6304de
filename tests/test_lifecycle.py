"""Process lifecycle (SPEC D10): fork, and interpreter exit with things still
registered."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from nemo_relay import ScopeType, scope, subscribers


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_keeps_registrations_and_gets_fresh_ids():
    seen = []
    subscribers.register("fork-test", seen.append)
    try:
        h = scope.push("before-fork", ScopeType.Agent)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: its own uuids, the parent's subscriber, no lock held
            try:
                seen.clear()
                child = scope.push("in-child", ScopeType.Agent)
                scope.pop(child)
                ok = [e.name for e in seen] == ["in-child", "in-child"] and child.parent_uuid == h.uuid
                os.write(write, (child.uuid + (" ok" if ok else " bad")).encode())
            finally:
                os._exit(0)
        os.close(write)
        child_uuid, verdict = os.read(read, 200).decode().split()
        os.close(read)
        _, status = os.waitpid(pid, 0)
        assert status == 0 and verdict == "ok"
        mine = scope.push("in-parent", ScopeType.Agent)
        assert mine.uuid != child_uuid and mine.uuid[14:] != child_uuid[14:]
        scope.pop(mine)
        scope.pop(h)
    finally:
        subscribers.deregister("fork-test")


def test_interpreter_exit_with_everything_still_registered(plugin_dir, fixture_library):
    from conftest import write_manifest

    manifest = write_manifest(plugin_dir, "fixture_native", str(fixture_library), "nemo_relay_fixture_native_plugin")
    script = textwrap.dedent(f"""
        import asyncio, threading
        from nemo_relay import plugin, scope, scope_local, subscribers, guardrails, tools, ScopeType
        subscribers.register("left-behind", lambda e: None)
        guardrails.register_tool_sanitize_request("left", 0, lambda n, a: a)
        h = scope.push("never-popped", ScopeType.Agent)
        scope_local.register_subscriber(h, "local", lambda e: None)
        spec = plugin.DynamicPluginActivationSpec("fixture_native", "native", {manifest!r})
        host = asyncio.run(plugin.initialize_with_dynamic_plugins(None, [spec]))
        tools.execute_sync("t", {{"x": 1}}, lambda a: a)
        print("exiting without cleanup")
    """)
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-P", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "exiting without cleanup" in out.stdout
    assert "Fatal" not in out.stderr and "Traceback" not in out.stderr
