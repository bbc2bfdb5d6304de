"""Builds the benchmark's native plugin (fixtures/bench_chain.c) with the
system C compiler, the same flags as the test suite (tests/_build.py), and
writes its relay-plugin.toml.  Used by run.py (once per run) and by
scenarios.py when run on its own.  Needs only our package (get_include)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "fixtures" / "bench_chain.c"
PLUGIN_ID = "bench_chain"
SYMBOL = "nemo_relay_bench_chain_plugin"
ENV_VAR = "NEMO_RELAY_BENCH_PLUGIN"  # path of a ready relay-plugin.toml


def _pkg_config(*args: str) -> list[str]:
    return subprocess.run(["pkg-config", *args], check=True, capture_output=True, text=True).stdout.split()


def build(out_dir: str | os.PathLike[str] | None = None) -> str:
    """Compiles the plugin into out_dir (a fresh temp dir by default) and
    returns the manifest path.  The library is mode 0755 and its directory is
    not group/other-writable, so the loader's permission check passes."""
    import nemo_relay

    directory = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="nemo-relay-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    library = directory / "libbench_chain.so"
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    cmd = [
        *cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-fvisibility=hidden",
        "-I", nemo_relay.get_include(), *_pkg_config("--cflags", "libcjson"),
        str(SOURCE), "-o", str(library), *_pkg_config("--libs", "libcjson"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building {SOURCE.name} failed: {' '.join(cmd)}\n{proc.stderr}")
    library.chmod(0o755)
    manifest = directory / "relay-plugin.toml"
    lines = [
        "manifest_version = 1",
        "[plugin]",
        f"id = {json.dumps(PLUGIN_ID)}",
        'kind = "native"',
        "[compat]",
        f"relay = {json.dumps('=' + nemo_relay.__version__)}",
        'native_api = "1"',
        "[defaults]",
        "enabled = false",
        "[capabilities]",
        'items = ["plugin_native"]',
        "[load]",
        f"library = {json.dumps(library.name)}",
        f"symbol = {json.dumps(SYMBOL)}",
    ]
    manifest.write_text("\n".join(lines) + "\n")
    manifest.chmod(0o644)
    return str(manifest)


def manifest_path() -> str:
    """The manifest named by $NEMO_RELAY_BENCH_PLUGIN, else a fresh build."""
    path = os.environ.get(ENV_VAR)
    if path and Path(path).exists():
        return path
    return build()
