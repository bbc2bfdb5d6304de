"""Integrations with agent frameworks.

Each subpackage imports its framework only when it is imported itself, and
needs the matching optional extra: ``nemo_relay.integrations.langchain``
(``pip install 'nemo-relay[langchain]'``) and
``nemo_relay.integrations.langgraph`` (``pip install 'nemo-relay[langgraph]'``).
Importing ``nemo_relay`` never imports a framework.
"""

from __future__ import annotations

__all__: list[str] = []
