"""Import a framework for an integration, or explain which extra is missing."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``; if it is missing raise an ImportError naming ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"nemo_relay.integrations.{extra} needs {module.split('.')[0]!r}: "
            f"install it with pip install 'nemo-relay[{extra}]'"
        ) from e
