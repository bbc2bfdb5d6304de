"""Compiling C at test time: the plain-C test programs and fixture plugins.

Uses the interpreter's C compiler.  With NEMO_RELAY_SANITIZE=1 (the CI
sanitizer run) fixture plugins are built with ASan+UBSan too.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sysconfig
from pathlib import Path

import nemo_relay

ROOT = Path(__file__).resolve().parent.parent
SANITIZE = os.environ.get("NEMO_RELAY_SANITIZE") == "1"
SAN_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]


def compiler() -> list[str]:
    cc = sysconfig.get_config_var("CC") or "cc"
    return shlex.split(cc)


def pkg_config(*args: str) -> list[str]:
    return subprocess.run(["pkg-config", *args], check=True, capture_output=True, text=True).stdout.split()


def run_checked(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return proc


def build_plugin(source: str | Path, out_dir: Path, name: str | None = None) -> Path:
    """Builds a fixture plugin into out_dir with mode 0755 (never group-writable)."""
    source = Path(source)
    if not source.is_absolute():
        source = ROOT / source
    out = out_dir / f"lib{name or source.stem}.so"
    cmd = [
        *compiler(), "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
        "-fvisibility=hidden", "-I", nemo_relay.get_include(), *pkg_config("--cflags", "libcjson"),
        str(source), "-o", str(out), *pkg_config("--libs", "libcjson"),
    ]
    if SANITIZE:
        cmd[1:1] = SAN_FLAGS
    run_checked(cmd)
    out.chmod(0o755)
    return out


def have_cxx() -> bool:
    return shutil.which("g++") is not None or shutil.which("c++") is not None
