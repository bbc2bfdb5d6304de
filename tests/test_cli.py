"""The command line, run as subprocesses: exit codes and output."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys

import pytest

import nemo_relay
from conftest import write_manifest

ENTRY = "nemo_relay_fixture_native_plugin"


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, "-P", "-m", "nemo_relay", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_version_include_and_help():
    assert cli("--version").stdout.strip() == f"nemo_relay {nemo_relay.__version__}"
    include = cli("--include")
    assert include.returncode == 0
    assert os.path.exists(os.path.join(include.stdout.strip(), "nemo_relay_plugin.h"))
    for args in (["--help"], ["demo", "--help"], ["plugin", "--help"], ["plugin", "check", "--help"],
                 ["plugin", "inspect", "--help"], ["plugin", "new", "--help"]):
        out = cli(*args)
        assert out.returncode == 0 and "usage:" in out.stdout, args
    assert cli().returncode == 2
    assert cli("plugin").returncode == 2
    assert cli("bogus").returncode == 2


def test_plugin_check(plugin_dir, fixture_library):
    path = write_manifest(plugin_dir, "fixture_native", str(fixture_library), ENTRY)
    ok = cli("plugin", "check", path)
    assert ok.returncode == 0, ok.stderr
    assert "[ok  ] compat.relay admits this host" in ok.stdout
    report = json.loads(cli("plugin", "check", str(plugin_dir), "--json", "--id", "fixture_native").stdout)
    assert report["ok"] and report["plugin"]["library"] == str(fixture_library)
    assert {c["check"]: c["status"] for c in report["checks"]}["sha256"] == "skipped"

    write_manifest(plugin_dir, "fixture_native", str(fixture_library), ENTRY, relay=">=1.0,<2.0")
    bad = cli("plugin", "check", path, "--json")
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    statuses = {c["check"]: c["status"] for c in report["checks"]}
    assert statuses["compat.relay"] == "failed" and statuses["kind"] == "passed"
    assert statuses["library"] == "not run"
    assert "requires relay" in report["error"]
    assert cli("plugin", "check", str(plugin_dir / "missing")).returncode == 1


def test_plugin_inspect(plugin_dir, fixture_library):
    write_manifest(plugin_dir, "fixture_native", str(fixture_library), ENTRY)
    out = cli("plugin", "inspect", str(plugin_dir))
    assert out.returncode == 0, out.stderr
    assert "plugin: fixture_native" in out.stdout and "abi: v1" in out.stdout
    assert "allows_multiple_components: true" in out.stdout
    assert "registrations (12):" in out.stdout
    assert "tool request intercept: fixture_rewrite_args (priority 0)" in out.stdout
    rejected = cli("plugin", "inspect", str(plugin_dir), "--config", '{"reject": true}')
    assert rejected.returncode == 1
    assert "error: fixture.rejected [reject]: fixture rejection requested" in rejected.stdout
    broken = cli("plugin", "inspect", str(plugin_dir / "nope"))
    assert broken.returncode == 1 and "does not exist" in broken.stderr


def test_plugin_new_scaffolds_a_project_that_builds_and_loads(tmp_path):
    tmp_path.chmod(0o755)
    out = cli("plugin", "new", "hello_plugin", "--dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    project = tmp_path / "hello_plugin"
    assert sorted(os.listdir(project)) == ["Makefile", "README.md", "hello_plugin.c", "relay-plugin.toml"]
    source = (project / "hello_plugin.c").read_text()
    assert "#include <nemo_relay_plugin.h>" in source and "cjson" not in source.lower()
    makefile = (project / "Makefile").read_text()
    assert f"PYTHON ?= {sys.executable}\n" in makefile  # the interpreter that created it
    if shutil.which("make"):
        # no virtualenv on PATH and no PYTHON given: the Makefile knows its interpreter
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "VIRTUAL_ENV", "PYTHONPATH")}
        env["PATH"] = "/usr/bin:/bin"
        build = subprocess.run(["make"], cwd=project, capture_output=True, text=True, env=env)
        assert "-I/" in build.stdout, build.stdout  # never an empty include path
        broken = subprocess.run(["make", "-B", "PYTHON=/bin/false"], cwd=project, capture_output=True,
                                text=True, env=env)
        assert broken.returncode != 0 and "/bin/false cannot find nemo_relay" in broken.stderr
    else:  # what the Makefile does
        include = cli("--include").stdout.strip()
        build = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-fvisibility=hidden",
                                f"-I{include}", "-shared", "hello_plugin.c", "-o", "libhello_plugin.so"],
                               cwd=project, capture_output=True, text=True)
        (project / "libhello_plugin.so").chmod(0o755)
    assert build.returncode == 0, build.stdout + build.stderr
    inspect = cli("plugin", "inspect", str(project))
    assert inspect.returncode == 0, inspect.stderr
    assert "registrations (2):" in inspect.stdout
    assert "tool conditional-execution guardrail: block_dangerous" in inspect.stdout
    # and it does what its comments say
    from nemo_relay import errors, plugin, tools

    spec = plugin.DynamicPluginActivationSpec("hello_plugin", "native", str(project))
    with asyncio.run(plugin.initialize_with_dynamic_plugins(None, [spec])):
        assert tools.execute_sync("safe_tool", {}, lambda a: "ran") == "ran"
        with pytest.raises(errors.GuardrailRejected, match="dangerous tools are blocked"):
            tools.execute_sync("dangerous_rm", {}, lambda a: "ran")
    # a host of another ABI version gets a sentence, not a bare status (9 = INVALID_ARG)
    assert entry_refusal(project / "libhello_plugin.so", "nemo_relay_hello_plugin_plugin", abi_version=2) == (
        9, "hello_plugin was built for native plugin ABI v1; this host speaks v2 (a host table of 272 bytes): "
           "rebuild it against this host's nemo_relay_plugin.h")
    assert cli("plugin", "new", "hello_plugin", "--dir", str(tmp_path)).returncode == 1  # exists
    assert cli("plugin", "new", "not-an-identifier", "--dir", str(tmp_path)).returncode == 2


def entry_refusal(library, symbol: str, *, abi_version: int) -> tuple[int, str | None]:
    """Calls a plugin's entry with a host table claiming `abi_version` (only
    its string and last-error functions work) and returns the status and the
    last error the entry set."""
    import ctypes

    lib = ctypes.CDLL(str(library))
    said: list[str] = []
    keep: list[object] = []
    NEW = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p))
    SET = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    FREE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

    def string_new(data, length, out):
        buf = ctypes.create_string_buffer(ctypes.string_at(data, length), length)
        keep.append(buf)
        out[0] = ctypes.cast(buf, ctypes.c_void_p).value
        return 0

    def last_error_set(message):
        said.append(next(bytes(b.raw).decode() for b in keep if ctypes.addressof(b) == message))

    class Host(ctypes.Structure):  # the v1 layout's first fields, padded to 272 bytes
        _fields_ = [("abi_version", ctypes.c_uint32), ("struct_size", ctypes.c_size_t),
                    ("relay_version", ctypes.c_char_p), ("string_new", NEW), ("string_data", ctypes.c_void_p),
                    ("string_len", ctypes.c_void_p), ("string_free", FREE), ("last_error_clear", ctypes.c_void_p),
                    ("last_error_set", SET), ("rest", ctypes.c_void_p * 25)]

    callbacks = (NEW(string_new), SET(last_error_set), FREE(lambda s: None))
    host = Host(abi_version=abi_version, struct_size=ctypes.sizeof(Host), relay_version=b"9.0.0",
                string_new=callbacks[0], last_error_set=callbacks[1], string_free=callbacks[2])
    assert ctypes.sizeof(Host) == 272
    entry = getattr(lib, symbol)
    entry.restype = ctypes.c_int
    descriptor = (ctypes.c_char * 56)()
    status = entry(ctypes.byref(host), descriptor)
    return status, (said[0] if said else None)


def test_demo_prints_the_tree_and_writes_redacted_atof(tmp_path):
    out = cli("demo", "--output", str(tmp_path / "events.jsonl"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "weather-agent [agent]" in out.stdout
    assert "rejected: destructive tools need a human" in out.stdout
    assert "secrets in the file: none" in out.stdout
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) >= 10 and all(e["atof_version"] == "0.1" for e in events)
    assert not any("sk-demo-secret" in line or "wx-live" in line for line in lines)
    names = {e["name"] for e in events}
    assert {"weather-agent", "fake-llm", "get_weather", "delete_files", "answer"} <= names


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_commands_run_from_the_repository_root():
    """The checkout's nemo_relay/ must not shadow the installed package: the
    README's commands use -P, and they work with the repository root as cwd."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert "\npython -m nemo_relay" not in readme and "$(python -m nemo_relay" not in readme
    assert readme.count("python -P -m nemo_relay") >= 5
    include = cli("--include", cwd=REPO)
    assert include.returncode == 0, include.stderr
    assert os.path.exists(os.path.join(include.stdout.strip(), "nemo_relay_plugin.h"))


def test_source_tree_without_extension_says_how_to_run():
    source = os.path.join(REPO, "nemo_relay")
    if any(f.startswith("_native.") and f.endswith(".so") for f in os.listdir(source)):
        pytest.skip("an in-place build: the source tree is importable")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    out = subprocess.run([sys.executable, "-m", "nemo_relay", "--version"], capture_output=True, text=True,
                         cwd=REPO, env=env, timeout=120)
    assert out.returncode == 1
    assert "a source tree without the built extension" in out.stderr
    assert "python -P -m nemo_relay" in out.stderr
