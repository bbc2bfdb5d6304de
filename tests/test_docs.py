"""What a newcomer reads first keeps its promises: the license, the changelog,
the supported Python versions, the runtime libraries, uninstalling, the
threading model, the quickstart example and the two help screens."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import tomllib

from _build import ROOT
from test_cli import cli

README = (ROOT / "README.md").read_text()


def test_license_is_the_apache_2_text_the_package_declares():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert "[LICENSE](LICENSE)" in README and "[CHANGELOG.md](CHANGELOG.md)" in README
    assert f"## {project['version']}" in (ROOT / "CHANGELOG.md").read_text()


def test_python_3_11_to_3_13_in_the_readme_and_the_classifiers():
    classifiers = importlib.metadata.metadata("nemo-relay").get_all("Classifier") or []
    for minor in (11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "CPython 3.11, 3.12 and 3.13" in README


def test_readme_names_runtime_libraries_uninstall_and_threading():
    assert "apt-get install\nlibcjson1 libssl3" in README or "libcjson1 libssl3" in README
    assert "pip uninstall nemo-relay" in README
    assert importlib.metadata.distribution("nemo-relay").metadata["Name"] == "nemo-relay"
    section = README.split("## Threads and callbacks", 1)[1].split("\n## ", 1)[0]
    for who in ("Subscribers", "Guardrails", "Execution intercepts", "Native plugin callbacks", "GIL"):
        assert who in section


def test_quickstart_is_linked_documented_and_runs(tmp_path):
    assert "[examples/quickstart.py](examples/quickstart.py)" in README
    source = (ROOT / "examples" / "quickstart.py").read_text()
    doc = source.split('"""')[1]
    assert "python examples/quickstart.py" in doc and "./dev demo" not in doc
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], capture_output=True,
                         text=True, cwd=tmp_path, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    names = {e["name"] for e in events}
    assert {"agent", "plan", "thinking", "answers"} <= names


def test_dev_help_is_the_header_comment_only():
    out = subprocess.run(["bash", str(ROOT / "dev"), "help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "./dev test" in out.stdout and "set -euo" not in out.stdout and "#" not in out.stdout


def test_cli_help_has_no_restructuredtext_markup():
    out = cli("--help")
    assert out.returncode == 0
    assert "``" not in out.stdout and "plugins" in out.stdout
    assert "Exit codes: 0 success" in out.stdout
