"""Build of nemo_relay's C extension (nemo_relay._native).

cJSON and OpenSSL's libcrypto are found with pkg-config; a missing one stops
the build with a one-line message naming the Debian package to install.

Environment switches (used by ./dev and CI):
  NEMO_RELAY_WERROR=1    compile our C with -Werror
  NEMO_RELAY_SANITIZE=1  compile and link with -fsanitize=address,undefined
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
HEADER = ROOT / "csrc" / "include" / "nemo_relay_plugin.h"

# pkg-config name -> Debian package that provides it
DEPENDENCIES = {"libcjson": "libcjson-dev", "libcrypto": "libssl-dev"}


def pkg_config(*args: str) -> list[str]:
    if shutil.which("pkg-config") is None:
        sys.exit("nemo_relay: pkg-config not found; install it with: apt-get install pkg-config")
    out = subprocess.run(["pkg-config", *args], check=True, capture_output=True, text=True)
    return out.stdout.split()


def find_dependencies() -> tuple[list[str], list[str]]:
    cflags: list[str] = []
    libs: list[str] = []
    for name, debian in DEPENDENCIES.items():
        try:
            cflags += pkg_config("--cflags", name)
            libs += pkg_config("--libs", name)
        except subprocess.CalledProcessError:
            sys.exit(f"nemo_relay: {name} not found by pkg-config; install it with: apt-get install {debian}")
    return cflags, libs


def c_sources() -> list[str]:
    dirs = ["csrc/runtime", "csrc/loader", "csrc/python"]
    return sorted(str(p.relative_to(ROOT)) for d in dirs for p in (ROOT / d).glob("*.c"))


class BuildPyWithHeader(build_py):
    """Ships the plugin ABI header inside the package (nemo_relay/include)."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "nemo_relay" / "include"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(HEADER, target / HEADER.name)


cflags, libs = find_dependencies()
compile_args = ["-std=c11", "-D_GNU_SOURCE", "-fvisibility=hidden", "-Wall", "-Wextra",
                "-Wno-missing-field-initializers", "-Wno-cast-function-type"]
link_args: list[str] = []
if os.environ.get("NEMO_RELAY_WERROR") == "1":
    compile_args.append("-Werror")
if os.environ.get("NEMO_RELAY_SANITIZE") == "1":
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g", "-O1"]
    compile_args += san
    link_args += ["-fsanitize=address,undefined"]

native = Extension(
    "nemo_relay._native",
    sources=c_sources(),
    include_dirs=["csrc/include", "csrc/runtime", "csrc/loader", "csrc/python"],
    extra_compile_args=compile_args + [f for f in cflags if not f.startswith("-I")],
    extra_link_args=link_args,
    libraries=[f[2:] for f in libs if f.startswith("-l")] + ["dl", "pthread"],
    library_dirs=[f[2:] for f in libs if f.startswith("-L")],
    define_macros=[("NR_RELAY_VERSION", '"0.5.0"')],
)
native.include_dirs += [f[2:] for f in cflags if f.startswith("-I")]

setup(ext_modules=[native], cmdclass={"build_py": BuildPyWithHeader})
