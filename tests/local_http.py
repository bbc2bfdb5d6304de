"""A small HTTP server on 127.0.0.1 for exporter tests: records every request
and answers with a status the test chooses; it can refuse connections
(stopped) or stall a request until released."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


class LocalHTTPServer:
    """Start with ``start()``, stop with ``stop()`` (the fixture does both).

    ``status`` is the response code; ``stall`` (a threading.Event), when set
    on the server, makes each request wait for it before answering.
    ``on_request`` is called with each recorded request."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.status = 200
        self.stall: threading.Event | None = None
        self.received = threading.Condition()
        self.on_request: Callable[[Request], None] | None = None
        self.arrivals = 0  # requests that reached the handler (stalled ones included)
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalHTTPServer:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with outer.received:
                    outer.arrivals += 1
                    outer.received.notify_all()
                stall = outer.stall
                if stall is not None:
                    stall.wait()
                req = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                status = outer.status
                if status < 400:
                    with outer.received:
                        outer.requests.append(req)
                        if outer.on_request is not None:
                            outer.on_request(req)
                        outer.received.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        # port 0 the first time; the same port again after a restart
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            if self.stall is not None:
                self.stall.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Blocks until predicate() holds (re-checked on every request)."""
        with self.received:
            return self.received.wait_for(predicate, timeout)
