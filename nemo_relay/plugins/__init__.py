"""The native plugins bundled with nemo_relay.

Each is built with the package into ``nemo_relay/plugins/<name>/`` as
``lib<name>.so`` next to its ``relay-plugin.toml`` (with the library's sha256).
Load one with its manifest::

    from nemo_relay import plugin
    from nemo_relay.plugins import manifest

    spec = plugin.DynamicPluginActivationSpec("redact", "native", manifest("redact"))

- ``redact``: sanitize guardrails that replace the values of configured keys
  and configured literal patterns in recorded tool and LLM events.
- ``atof_file``: a subscriber that appends every event as one JSON line to a file.

The configuration of each is documented at the top of its C source
(``plugins/<name>/<name>.c`` in the repository).
"""

from __future__ import annotations

import os

__all__ = ["manifest", "names"]

_HERE = os.path.dirname(os.path.abspath(__file__))


def names() -> list[str]:
    """Names of the bundled plugins that are installed, sorted."""
    try:
        entries = os.listdir(_HERE)
    except OSError:
        return []
    return sorted(n for n in entries if os.path.isfile(os.path.join(_HERE, n, "relay-plugin.toml")))


def manifest(name: str) -> str:
    """Path of the ``relay-plugin.toml`` of the bundled plugin ``name``."""
    path = os.path.join(_HERE, name, "relay-plugin.toml")
    if not name or os.sep in name or name.startswith(".") or not os.path.isfile(path):
        available = ", ".join(names()) or "none (the package was built without them)"
        raise ValueError(f"unknown bundled plugin {name!r}; available: {available}")
    return path
