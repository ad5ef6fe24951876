"""What every fake provider server shares: a threaded keep-alive HTTP server on 127.0.0.1
(a free port) that tracks its client connections, so ``stop()`` ends idle keep-alive
connections and returns at once, and tests can see connection reuse."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class KeepAliveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is visible
    timeout = 5  # idle keep-alive connections end by themselves
    # No Nagle/delayed-ACK stall (~40 ms) when headers and body leave in two writes.
    disable_nagle_algorithm = True
    server: LoopbackServer

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: URLs may carry signatures
        return


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: LoopbackFake

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (timeout tests) or a stop() closing its socket is expected.
        pass


class LoopbackFake:
    """Base of a fake: subclasses set ``handler`` and answer requests."""

    handler: type[KeepAliveHandler]

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    def start(self):
        self._stopping.clear()
        self._server = LoopbackServer(("127.0.0.1", 0), self.handler)
        self._server.fake = self
        # A short poll interval: stop() returns within 50 ms.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is None:
            return
        self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # end idle keep-alive connections so handler threads exit
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def open_connections(self) -> int:
        """Client connections the fake still holds open."""
        with self._lock:
            return len(self._connections)

    def _track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)
