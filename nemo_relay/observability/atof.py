"""AtofExporter: every event as one ATOF 0.1 JSON line, to a file and to HTTP
endpoints, written by a background thread (SPEC D13).

The lines are the runtime's own event JSON, byte for byte what the bundled
native ``atof_file`` plugin writes.  Each HTTP endpoint has its own bounded
backlog and thread, so a slow endpoint delays neither the file nor the agent;
a full backlog drops and counts like the main queue.
"""

from __future__ import annotations

import enum
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._drain import Drain

__all__ = ["AtofExporterMode", "AtofEndpointConfig", "AtofExporterConfig", "AtofExporter"]

_TRANSPORTS = ("http_post", "websocket", "ndjson")
_POLICIES = ("preserve", "replace_dots")


class AtofExporterMode(enum.Enum):
    """How ``AtofExporter`` opens its file: append to it, or truncate it once."""

    Append = "append"
    Overwrite = "overwrite"


@dataclass(slots=True)
class AtofEndpointConfig:
    """An HTTP destination that receives every raw ATOF event.

    ``http_post`` sends the events as JSON Lines (``application/x-ndjson``),
    one POST per batch the exporter drains.  ``field_name_policy`` may be
    ``"replace_dots"``: every ``.`` in an object key becomes ``_``.
    """

    url: str
    transport: Literal["http_post", "websocket", "ndjson"] = "http_post"
    headers: dict[str, str] = field(default_factory=dict)
    timeout_millis: int = 3000
    field_name_policy: Literal["preserve", "replace_dots"] = "preserve"

    def __post_init__(self) -> None:
        if self.headers is None:
            self.headers = {}

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON object shape of this endpoint."""
        return {"url": self.url, "transport": self.transport, "headers": dict(self.headers),
                "timeout_millis": self.timeout_millis, "field_name_policy": self.field_name_policy}


def _default_filename() -> str:
    return time.strftime("nemo-relay-events-%Y-%m-%d-%H.%M.%S.jsonl", time.gmtime())


class AtofExporterConfig:
    """Where ``AtofExporter`` writes: ``output_directory`` / ``filename``
    (default: the working directory and ``nemo-relay-events-<UTC time>.jsonl``),
    ``mode`` and HTTP ``endpoints``."""

    def __init__(self) -> None:
        self.output_directory: str = os.getcwd()
        self.mode: AtofExporterMode = AtofExporterMode.Append
        self.filename: str = _default_filename()
        self.endpoints: list[AtofEndpointConfig] = []

    def __repr__(self) -> str:
        return (f"AtofExporterConfig(output_directory={self.output_directory!r}, "
                f"mode={self.mode}, filename={self.filename!r}, endpoints={self.endpoints!r})")


def check_endpoint(index: int, ep: AtofEndpointConfig) -> None:
    """Raises ValueError naming the endpoint when its settings are unusable."""
    where = f"invalid ATOF streaming endpoint: endpoints[{index}]"
    if not isinstance(ep, AtofEndpointConfig):
        raise TypeError(f"{where}: expected AtofEndpointConfig, not {type(ep).__name__}")
    if not isinstance(ep.url, str) or not ep.url.strip():
        raise ValueError(f"{where}: endpoint url must be non-empty")
    if ep.transport not in _TRANSPORTS:
        raise ValueError(f"{where}: unknown transport {ep.transport!r} (expected one of "
                         f"{', '.join(_TRANSPORTS)})")
    if ep.transport != "http_post":
        raise ValueError(f"{where}: transport {ep.transport!r} is not supported by nemo_relay "
                         "(use http_post)")
    if ep.field_name_policy not in _POLICIES:
        raise ValueError(f"{where}: unknown field_name_policy {ep.field_name_policy!r}")
    if isinstance(ep.timeout_millis, bool) or not isinstance(ep.timeout_millis, int) \
            or ep.timeout_millis <= 0:
        raise ValueError(f"{where}: endpoint timeout_millis must be greater than 0")
    scheme = urllib.parse.urlsplit(ep.url).scheme
    if scheme not in ("http", "https"):
        raise ValueError(f"{where}: endpoint http_post transport does not support URL scheme "
                         f"{scheme!r}")
    for k, v in ep.headers.items():
        if not isinstance(k, str) or not isinstance(v, str) or not k or any(
                c in k + v for c in "\r\n"):
            raise ValueError(f"{where}: invalid header {k!r}")


def _replace_dots(value: Any) -> Any:
    if isinstance(value, dict):
        return {k.replace(".", "_"): _replace_dots(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_dots(v) for v in value]
    return value


class _Endpoint:
    """One HTTP endpoint: a bounded backlog of lines and the thread posting them."""

    MAX_BACKLOG = 8192

    def __init__(self, index: int, config: AtofEndpointConfig) -> None:
        self.index = index
        self.config = config
        self._backlog: deque[str] = deque()
        self._cond = threading.Condition()
        self._busy = 0
        self._closed = False
        self.dropped = 0
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name=f"nemo-relay-atof-endpoint-{index}",
                                        daemon=True)
        self._thread.start()

    def offer(self, lines: list[str]) -> None:
        with self._cond:
            room = max(self.MAX_BACKLOG - len(self._backlog), 0)
            lost = max(len(lines) - room, 0)
            self.dropped += lost
            self._backlog.extend(lines[:room])
            self._cond.notify()
        if lost:
            warnings.warn(f"nemo_relay: ATOF endpoint[{self.index}] dropped {lost} events: its "
                          f"backlog ({self.MAX_BACKLOG}) was full", RuntimeWarning, stacklevel=1)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._backlog and not self._closed:
                    self._cond.wait()
                if not self._backlog:
                    return
                lines = list(self._backlog)
                self._backlog.clear()
                self._busy = len(lines)
            try:
                self._post(lines)
            finally:
                with self._cond:
                    self._busy = 0
                    self._cond.notify_all()

    def _post(self, lines: list[str]) -> None:
        ep = self.config
        if ep.field_name_policy == "replace_dots":
            lines = [json.dumps(_replace_dots(json.loads(line)), ensure_ascii=False,
                                separators=(",", ":")) for line in lines]
        body = ("\n".join(lines) + "\n").encode()
        headers = {"Content-Type": "application/x-ndjson", **ep.headers}
        req = urllib.request.Request(ep.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=ep.timeout_millis / 1000) as resp:
                resp.read()
        except (OSError, urllib.error.URLError, ValueError) as exc:
            self.failures += 1
            self.dropped += len(lines)
            warnings.warn(f"nemo_relay: ATOF endpoint[{self.index}] {ep.url} failed: {exc}; "
                          f"{len(lines)} events not delivered", RuntimeWarning, stacklevel=1)

    def flush(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._backlog or self._busy:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float | None) -> None:
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)


class AtofExporter:
    """Writes every event it receives as one ATOF JSON line.

    The file is opened (and, in ``Overwrite`` mode, truncated) here; a
    directory that does not exist is created.  Register the exporter as a
    subscriber with ``register(name)``; events are queued and written by a
    background thread.  ``force_flush()`` returns once everything queued has
    reached the file and the endpoints; a write error is kept and raised by
    the next ``force_flush()`` / ``shutdown()``.
    """

    def __init__(self, config: AtofExporterConfig, *, queue_capacity: int = 4096,
                 _config_owned: bool = False) -> None:
        if not isinstance(config, AtofExporterConfig):
            raise TypeError(f"AtofExporter expects an AtofExporterConfig, not {type(config).__name__}")
        mode = AtofExporterMode(config.mode) if isinstance(config.mode, str) else config.mode
        if not isinstance(mode, AtofExporterMode):
            raise TypeError("config.mode must be an AtofExporterMode")
        endpoints = list(config.endpoints)
        for i, ep in enumerate(endpoints):
            check_endpoint(i, ep)
        self._path = os.path.join(os.fspath(config.output_directory), config.filename)
        try:
            os.makedirs(os.fspath(config.output_directory), exist_ok=True)
            # line-buffering is not needed: each batch is written then flushed
            self._file = open(self._path, "a" if mode is AtofExporterMode.Append else "w",
                              encoding="utf-8")
        except OSError as exc:
            raise OSError(exc.errno, f"failed to open ATOF output file {self._path!r}: "
                                     f"{exc.strerror}") from exc
        self._error: str | None = None
        self._closed = False
        self._endpoints = [_Endpoint(i, ep) for i, ep in enumerate(endpoints)]
        # _config_owned: installed by the observability component, it ends
        # itself (on the drain thread) once the configuration is cleared
        self._drain = Drain("ATOF exporter", self._write, capacity=queue_capacity,
                            on_close=self._finish if _config_owned else None,
                            close_when_unregistered=_config_owned)

    @property
    def path(self) -> str:
        """The JSON Lines file."""
        return self._path

    @property
    def dropped_events(self) -> int:
        """Events dropped because the queue was full (endpoints count apart)."""
        return self._drain.dropped

    def register(self, name: str) -> None:
        """Receive every event as the global subscriber ``name``."""
        if self._closed:
            raise RuntimeError(f"the ATOF exporter for {self._path!r} has been shut down")
        self._drain.register(name)

    def deregister(self, name: str) -> bool:
        """Stop receiving events as ``name``; whether it was registered."""
        return self._drain.deregister(name)

    def _write(self, events: Sequence[Any]) -> None:
        lines = [ev.to_json() for ev in events]
        if self._error is None and not self._file.closed:
            try:
                self._file.write("".join(line + "\n" for line in lines))
                self._file.flush()
            except (OSError, ValueError) as exc:
                self._error = str(exc)
        for ep in self._endpoints:
            ep.offer(lines)

    def force_flush(self) -> None:
        """Wait until every queued event reached the file and the endpoints."""
        self._drain.flush()
        for ep in self._endpoints:
            ep.flush(None)
        self._raise_stored()

    def shutdown(self) -> None:
        """Deregister, write out what is queued, close the file and endpoints."""
        if self._closed:
            self._raise_stored()
            return
        self._closed = True
        self._drain.close()
        self._finish()
        self._raise_stored()

    def _finish(self) -> None:
        for ep in self._endpoints:
            ep.close(None)
        try:
            self._file.close()
        except OSError as exc:
            self._error = self._error or str(exc)

    def _raise_stored(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"previous ATOF export failed for {self._path!r}: {self._error}")

    def __repr__(self) -> str:
        return f"<AtofExporter path={self._path!r}>"
