"""Is what the suite loads built with the sanitizers?

An ASan+UBSan shared object calls into the sanitizer runtimes, so its dynamic
symbol table names __asan_init and __ubsan_handle_* (undefined, resolved from
libasan/libubsan); a plain build names neither.

Run as a script before the sanitizer suite (``./dev test-asan``):

    python tests/_instrumentation.py asan|plain

checks the installed extension, the bundled plugins and a freshly built test
fixture against the expected flavour, and exits 1 naming every file that is
not.  The test suite asserts the same (tests/test_sanitizer_build.py).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path


def sanitizer_symbols(library: Path) -> set[str]:
    """The sanitizer runtime entry points library imports (empty for a plain build)."""
    out = subprocess.run(["nm", "-D", "--undefined-only", str(library)],
                         check=True, capture_output=True, text=True).stdout
    found = set()
    for line in out.splitlines():
        name = line.split()[-1]
        if name == "__asan_init":
            found.add("asan")
        elif name.startswith("__ubsan_handle_"):
            found.add("ubsan")
    return found


def is_instrumented(library: Path) -> bool:
    return sanitizer_symbols(library) == {"asan", "ubsan"}


def installed_libraries() -> list[Path]:
    """The extension and the bundled plugins of the installed package, found
    without importing it (an ASan extension cannot load without the runtime)."""
    spec = importlib.util.find_spec("nemo_relay")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("nemo_relay is not installed in this interpreter")
    package = Path(next(iter(spec.submodule_search_locations)))
    extension = sorted(package.glob("_native*.so"))
    plugins = sorted(package.glob("plugins/*/lib*.so"))
    if len(extension) != 1 or not plugins:
        raise SystemExit(f"{package}: expected one _native extension and the bundled plugins, "
                         f"found {extension + plugins}")
    return extension + plugins


def fixture_library(out_dir: Path) -> Path:
    """A test fixture plugin built the way the suite builds them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _build import build_plugin

    return build_plugin("fixtures/fixture_native.c", out_dir, "instrumentation_probe")


def mismatches(expect_instrumented: bool, libraries: list[Path]) -> list[str]:
    return [f"{lib}: {'not ' if expect_instrumented else ''}built with ASan+UBSan"
            f" (sanitizer symbols: {sorted(sanitizer_symbols(lib)) or 'none'})"
            for lib in libraries if is_instrumented(lib) != expect_instrumented]


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("asan", "plain"):
        print("usage: _instrumentation.py asan|plain", file=sys.stderr)
        return 2
    expect = argv[0] == "asan"
    with tempfile.TemporaryDirectory() as tmp:
        libraries = installed_libraries() + [fixture_library(Path(tmp))]
        bad = mismatches(expect, libraries)
    if bad:
        print(f"instrumentation check FAILED (expected a{'n ASan' if expect else ' plain'} build):",
              *bad, sep="\n  ", file=sys.stderr)
        return 1
    print(f"instrumentation check: {len(libraries)} libraries are "
          f"{'ASan+UBSan' if expect else 'plain'} builds", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
