"""Typed errors raised by nemo_relay.

Every error is a :class:`RelayError`, itself a :class:`RuntimeError`, so code
written against NeMo Relay's plain ``RuntimeError`` keeps working.  Messages
keep upstream's wording ("scope handle is not at the top of the stack",
"guardrail rejected: ...").  Payloads that are not JSON raise ``ValueError``;
arguments of the wrong type raise ``TypeError``.
"""

from __future__ import annotations

__all__ = [
    "RelayError",
    "GuardrailRejected",
    "ScopeError",
    "NotOnTop",
    "ScopeNotFound",
    "AlreadyExists",
    "NotFoundError",
    "PluginError",
    "InvalidConfig",
    "RegistrationFailed",
    "PluginLoadError",
    "CodecError",
]


class RelayError(RuntimeError):
    """Base class of every nemo_relay runtime error."""


class GuardrailRejected(RelayError):
    """A conditional-execution guardrail rejected a tool or LLM call."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        #: The reason the guardrail gave.
        self.reason = reason


class ScopeError(RelayError):
    """A scope operation was used wrongly (e.g. popping the hidden root)."""


class NotOnTop(ScopeError):
    """The scope handle is on the current stack but not at its top."""


class ScopeNotFound(ScopeError):
    """The scope handle is not on the current stack."""


class AlreadyExists(RelayError):
    """A registration with that name already exists."""


class NotFoundError(RelayError):
    """Something looked up by name does not exist."""


class PluginError(RelayError):
    """Base class of plugin configuration and loading errors."""

    def __init__(
        self,
        message: str,
        *,
        plugin_id: str | None = None,
        manifest: str | None = None,
        check: str | None = None,
    ) -> None:
        super().__init__(message)
        #: The plugin id the error is about, when known.
        self.plugin_id = plugin_id
        #: The manifest path the error is about, when known.
        self.manifest = manifest
        #: Which loader check failed (e.g. "sha256", "symbol"), when known.
        self.check = check


class InvalidConfig(PluginError):
    """A plugin configuration or manifest is invalid."""


class RegistrationFailed(PluginError):
    """A plugin's register step failed."""


class PluginLoadError(PluginError):
    """Loading a native plugin library failed."""


class CodecError(RelayError):
    """A codec given as ``codec=`` / ``response_codec=`` raised.

    The message names the codec and the step (``"codec MyCodec.decode()
    failed: ValueError: ..."``); the codec's own exception is the
    ``__cause__``.  ``codec`` is the codec's class name.
    """

    def __init__(self, message: str, codec: str | None = None) -> None:
        super().__init__(message)
        self.codec = codec
