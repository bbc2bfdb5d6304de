"""Runs the plain-C test programs (runtime core, semver, manifest checks, the
redact plugin's sanitize step, the PII redactor, ABI layout) built with ASan+UBSan: the runtime
core is tested without Python."""

from __future__ import annotations

import os
import shutil

import pytest

from _build import ROOT, SAN_FLAGS, compiler, have_cxx, pkg_config, run_checked

RUNTIME = sorted(str(p) for d in ("runtime", "codecs") for p in (ROOT / "csrc" / d).glob("*.c"))
LOADER = {name: str(ROOT / "csrc" / "loader" / f"{name}.c")
          for name in ("semver", "manifest", "manifest_keys", "sha256", "loader_util", "json_nul")}
ERROR = str(ROOT / "csrc" / "runtime" / "nr_error.c")
# csrc/redact without the runtime glue (pii_component.c)
REDACT = [str(ROOT / "csrc" / "redact" / f"pii_{name}.c") for name in ("text", "detectors", "policy", "apply")]
INCLUDES = [f"-I{ROOT / d}" for d in ("csrc/include", "csrc/runtime", "csrc/codecs", "csrc/loader", "csrc/redact",
                                      "plugins/common", "tests/c")]

SUITES = {
    "test_runtime": RUNTIME,
    "test_export_queue": RUNTIME,
    "test_semver": [LOADER["semver"], LOADER["loader_util"], ERROR],
    "test_manifest": [LOADER["manifest"], LOADER["manifest_keys"], LOADER["semver"], LOADER["sha256"], LOADER["loader_util"],
                      LOADER["json_nul"], ERROR],
    "test_manifest_fuzz": [LOADER["manifest"], LOADER["manifest_keys"], LOADER["semver"], LOADER["sha256"],
                           LOADER["loader_util"], LOADER["json_nul"], ERROR],
    "test_redact": [],  # includes plugins/redact/redact.c itself
    "test_pii": REDACT,
    "test_codecs": RUNTIME,
}


def _build_and_run(tmp_path, name: str, sources: list[str], std: str = "c11") -> str:
    exe = tmp_path / name
    cmd = [
        *compiler(), f"-std={std}", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", *SAN_FLAGS,
        *INCLUDES, *pkg_config("--cflags", "libcjson", "libcrypto", "libpcre2-8"),
        str(ROOT / "tests" / "c" / f"{name}.c"), *sources, "-o", str(exe),
        *pkg_config("--libs", "libcjson", "libcrypto", "libpcre2-8"), "-lpthread",
    ]
    run_checked(cmd)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="halt_on_error=1")
    env.pop("LD_PRELOAD", None)
    return run_checked([str(exe)], env=env, cwd=tmp_path).stderr


@pytest.mark.parametrize("name", sorted(SUITES))
def test_c_suite(tmp_path, name):
    output = _build_and_run(tmp_path, name, SUITES[name])
    assert "FAIL" not in output


@pytest.mark.parametrize("std", ["c99", "c11"])
def test_abi_layout_is_pinned(tmp_path, std):
    exe = tmp_path / "layout"
    run_checked([*compiler(), f"-std={std}", "-Wall", "-Wextra", "-Werror", "-pedantic",
                 f"-I{ROOT / 'csrc/include'}", str(ROOT / "tests/c/test_abi_layout.c"), "-o", str(exe)])
    assert "ok" in run_checked([str(exe)]).stdout


@pytest.mark.skipif(not have_cxx(), reason="no C++ compiler")
def test_abi_header_is_cxx_safe(tmp_path):
    cxx = shutil.which("g++") or shutil.which("c++")
    exe = tmp_path / "layout_cxx"
    run_checked([cxx, "-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{ROOT / 'csrc/include'}",
                 str(ROOT / "tests/c/test_abi_header_cxx.cpp"), "-o", str(exe)])
    run_checked([str(exe)])
