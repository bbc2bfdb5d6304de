"""The sanitizer run tests sanitized code, and the plain run plain code.

Under ``./dev test-asan`` (NEMO_RELAY_SANITIZE=1) the extension, the bundled
plugins and the fixtures built at test time must all carry ASan+UBSan, and the
ASan runtime must be in the process; under ``./dev test`` none of them may.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nemo_relay
from _build import SANITIZE, build_plugin
from _instrumentation import installed_libraries, is_instrumented, mismatches, sanitizer_symbols


def test_the_loaded_extension_is_the_installed_one():
    # what the check inspects is what the suite imports
    assert Path(nemo_relay._native.__file__).resolve() == installed_libraries()[0].resolve()


@pytest.mark.parametrize("library", installed_libraries(), ids=lambda p: p.name)
def test_installed_library_matches_the_run(library):
    assert is_instrumented(library) == SANITIZE, sanitizer_symbols(library)


def test_fixtures_match_the_run(fixture_library, tmp_path):
    assert is_instrumented(fixture_library) == SANITIZE
    assert is_instrumented(build_plugin("fixtures/fixture_native.c", tmp_path, "probe")) == SANITIZE


def test_asan_runtime_is_loaded_only_in_the_sanitizer_run():
    maps = Path("/proc/self/maps").read_text()
    assert ("libasan.so" in maps) == SANITIZE


def test_check_tells_the_flavours_apart(tmp_path):
    # the check itself: a library of each flavour, built here side by side
    src = tmp_path / "probe.c"
    src.write_text("int probe(int *p, int i) { return p[i] + 1; }\n")
    from _build import compiler, run_checked

    plain, sanitized = tmp_path / "plain.so", tmp_path / "sanitized.so"
    run_checked([*compiler(), "-shared", "-fPIC", str(src), "-o", str(plain)])
    run_checked([*compiler(), "-shared", "-fPIC", "-fsanitize=address,undefined", str(src), "-o", str(sanitized)])
    assert sanitizer_symbols(plain) == set() and not is_instrumented(plain)
    assert sanitizer_symbols(sanitized) == {"asan", "ubsan"} and is_instrumented(sanitized)
    assert mismatches(True, [plain, sanitized]) == [
        f"{plain}: not built with ASan+UBSan (sanitizer symbols: none)"]
    assert mismatches(False, [plain, sanitized]) == [
        f"{sanitized}: built with ASan+UBSan (sanitizer symbols: ['asan', 'ubsan'])"]
