"""fork() while other threads load and close native plugins: the loader's
dlopen/dlclose and fork are exclusive, so every child starts with a
consistent dynamic linker, runs a managed call and exits cleanly.

The forking runs in a subprocess with a timeout, so a child that hangs (or a
parent stuck in fork) fails the test instead of hanging the suite."""

from __future__ import annotations

import subprocess
import sys

from conftest import write_manifest

FORKS = 400

SCRIPT = r"""
import os, sys, threading, warnings
warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, on purpose
from nemo_relay import plugin, tools
from nemo_relay.plugins import manifest

sys.setswitchinterval(0.0002)  # the forking thread gets the GIL back quickly
fixture_manifest, probe_manifest, forks = sys.argv[1], sys.argv[2], int(sys.argv[3])
probe = plugin.NativePluginLoadSpec("abi_probe", probe_manifest)  # loaded in children only
specs = [plugin.NativePluginLoadSpec("fixture_native", fixture_manifest),
         plugin.NativePluginLoadSpec("redact", manifest("redact")),
         plugin.NativePluginLoadSpec("atof_file", manifest("atof_file"))]
stop = threading.Event()
cycles = [0] * len(specs)
failures = []

def churn(k):
    while not stop.is_set():
        try:
            plugin.load_native_plugins([specs[k]]).close()
            cycles[k] += 1
        except BaseException as exc:
            failures.append(repr(exc))
            return

threads = [threading.Thread(target=churn, args=(k,)) for k in range(len(specs))]
for t in threads:
    t.start()
bad = []
try:
    for batch in range(0, forks, 4):  # a few children at a time, so both cores work
        children = {}
        for i in range(batch, min(batch + 4, forks)):
            pid = os.fork()
            if pid == 0:
                try:
                    # the child uses the dynamic linker itself: a state inherited
                    # halfway through another thread's dlopen/dlclose shows here
                    plugin.load_native_plugins([probe]).close()
                    ok = tools.execute_sync("child-call", {"i": i}, lambda a: a["i"] + 1) == i + 1
                    os._exit(0 if ok else 3)
                except BaseException as exc:
                    os.write(2, f"child {i}: {exc!r}\n".encode())
                    os._exit(4)
            children[pid] = i
        for pid, i in children.items():
            _, status = os.waitpid(pid, 0)
            if status != 0:
                bad.append((i, status))
finally:
    stop.set()
    for t in threads:
        t.join()
print("forks", forks, "bad", bad, "cycles", cycles, "failures", failures)
sys.exit(1 if bad or failures or min(cycles) == 0 else 0)
"""


def test_fork_while_plugins_load_and_close(plugin_dir, fixture_library):
    from _build import build_plugin

    path = write_manifest(plugin_dir, "fixture_native", str(fixture_library), "nemo_relay_fixture_native_plugin")
    probe_dir = plugin_dir / "probe"
    probe_dir.mkdir(mode=0o755)
    probe_dir.chmod(0o755)
    probe = write_manifest(probe_dir, "abi_probe", str(build_plugin("fixtures/abi_probe.c", probe_dir, "abi_probe")),
                           "nemo_relay_abi_probe_plugin")
    proc = subprocess.run([sys.executable, "-P", "-c", SCRIPT, path, probe, str(FORKS)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert f"forks {FORKS} bad []" in proc.stdout
