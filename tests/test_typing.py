"""Static typing: ``mypy --strict`` accepts the examples, a typed usage
program (tests/typing/) and the package itself, and rejects misuse of the API.

mypy runs in a subprocess from the repository root (the editable install
uses an import hook mypy cannot follow, so the package is found there).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy is not installed (it is in the 'test' extra: pip install -e '.[test]')")

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "nemo_relay"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for this module's runs (kept out of the source tree)."""
    return tmp_path_factory.mktemp("mypy-cache")


def run_mypy(cache_dir: Path, *targets: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache_dir), "--no-color-output",
           *map(str, targets)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def report(proc: subprocess.CompletedProcess[str]) -> str:
    return f"mypy exited {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"


def test_package_ships_typing_markers() -> None:
    assert (PACKAGE / "py.typed").is_file()
    assert (PACKAGE / "_native.pyi").is_file()
    with open(ROOT / "pyproject.toml", "rb") as f:
        package_data = tomllib.load(f)["tool"]["setuptools"]["package-data"]["nemo_relay"]
    assert "py.typed" in package_data and "*.pyi" in package_data


def test_examples_and_typed_usage_pass_mypy_strict(cache_dir: Path) -> None:
    proc = run_mypy(cache_dir, "examples", "tests/typing")
    assert proc.returncode == 0, report(proc)


def test_package_passes_mypy_strict(cache_dir: Path) -> None:
    proc = run_mypy(cache_dir, "-p", "nemo_relay")
    assert proc.returncode == 0, report(proc)


def test_modules_behind_stubs_pass_mypy_strict(cache_dir: Path) -> None:
    """A module with a .pyi is checked through its stub above; its code too."""
    sources = sorted(str(p.with_suffix(".py").relative_to(ROOT)) for p in PACKAGE.glob("*.pyi")
                     if p.with_suffix(".py").exists())
    assert "nemo_relay/typed.py" in sources
    proc = run_mypy(cache_dir, *sources)
    assert proc.returncode == 0, report(proc)


# Each snippet misuses the API; mypy must report the given error code in it.
MISUSE = {
    "str_for_scope_handle": ("arg-type", """
        from nemo_relay import scope
        scope.pop("not-a-handle")
    """),
    "str_for_scope_local_handle": ("arg-type", """
        from nemo_relay import scope_local
        def cb(tool_name: str, args: object) -> None:
            return None
        scope_local.register_tool_conditional_execution("agent", "block", 0, cb)
    """),
    "tool_flags_on_a_scope": ("arg-type", """
        from nemo_relay import ScopeType, ToolAttributes, scope
        scope.push("s", ScopeType.Agent, attributes=ToolAttributes.REMOTE)
    """),
    "scope_handle_for_tool_handle": ("arg-type", """
        from nemo_relay import ScopeType, scope, tools
        tools.call_end(scope.push("s", ScopeType.Agent), {"ok": True})
    """),
    "handles_are_read_only": ("misc", """
        from nemo_relay import scope
        scope.get_handle().name = "renamed"
    """),
    "llm_function_takes_a_request": ("arg-type", """
        from typing import Any
        from nemo_relay import LLMRequest, llm
        def call_model(request: dict[str, Any]) -> Any:
            return request
        async def main() -> None:
            await llm.execute("m", LLMRequest({}, "hi"), call_model)
    """),
    "llm_execute_needs_an_llm_request": ("arg-type", """
        from typing import Any
        from nemo_relay import LLMRequest, llm
        def call_model(request: LLMRequest) -> Any:
            return request.content
        async def main() -> None:
            await llm.execute("m", {"headers": {}, "content": "hi"}, call_model)
    """),
    "guardrails_are_synchronous": ("arg-type", """
        from typing import Any
        from nemo_relay import guardrails
        async def check(tool_name: str, args: Any) -> str | None:
            return None
        guardrails.register_tool_conditional_execution("check", 0, check)
    """),
    "subscribers_receive_marks_too": ("arg-type", """
        from nemo_relay import ScopeEvent, subscribers
        def only_scopes(event: ScopeEvent) -> None:
            print(event.scope_category)
        subscribers.register("only-scopes", only_scopes)
    """),
    "events_must_be_narrowed": ("union-attr", """
        import nemo_relay
        def phase(event: nemo_relay.Event) -> str:
            return event.scope_category
    """),
    "native_functions_take_positional_arguments": ("call-arg", """
        from nemo_relay import subscribers
        subscribers.register(name="printer", callback=print)
    """),
    "execute_returns_an_awaitable": ("assignment", """
        from typing import Any
        from nemo_relay import tools
        def double(args: Any) -> Any:
            return args
        result: int = tools.execute("double", 2, double)
    """),
    "plugins_need_register": ("arg-type", """
        from nemo_relay import plugin
        plugin.register("nothing", object())
    """),
}


def test_misuse_is_rejected(cache_dir: Path, tmp_path: Path) -> None:
    files = {}
    for name, (_, source) in MISUSE.items():
        path = tmp_path / f"misuse_{name}.py"
        path.write_text(textwrap.dedent(source).lstrip())
        files[name] = path
    proc = run_mypy(cache_dir, *files.values())
    assert proc.returncode == 1, report(proc)
    for name, (code, _) in MISUSE.items():
        lines = [line for line in proc.stdout.splitlines() if line.startswith(f"{files[name]}:")]
        assert any(": error:" in line and line.endswith(f"[{code}]") for line in lines), (
            f"{name}: expected a [{code}] error\n{report(proc)}")
