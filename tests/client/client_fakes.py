"""A scripted HTTP/1.1 server on loopback for the client's unit tests.

Each request is recorded and answered by the test's `script(request)`, which
returns a Reply (status, JSON or bytes body, headers), DROP (close the connection
without an answer, after reading the request), or a Stream (lines written one by
one, then the connection is closed). Keep-alive is on, as on the real server.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(slots=True, frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def seq(self) -> tuple[str | None, str | None]:
        return self.headers.get("x-senate-client"), self.headers.get("x-senate-seq")


@dataclass(slots=True)
class Reply:
    status: int = 200
    body: Any = None  # bytes as is, anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Stream:
    lines: list[Any]  # each a JSON object (or raw bytes) for one line
    pause: float = 0.0  # seconds between lines
    hold: float = 0.0  # seconds to keep the connection open after the last line


DROP = object()
Script = Callable[[Request], Any]


def status_of(node_id: str, role: str = "leader", leader: str | None = None) -> Reply:
    body = {
        "id": node_id,
        "role": role,
        "leader": leader or (node_id if role == "leader" else None),
    }
    return Reply(200, body)


class FakeServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with owner._lock:
                    owner.requests.append(req)
                action = owner.script(req)
                if action is DROP:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if isinstance(action, Stream):
                    self._stream(action)
                    return
                assert isinstance(action, Reply)
                data = action.body if isinstance(action.body, bytes) else b""
                if not isinstance(action.body, bytes) and action.body is not None:
                    data = json.dumps(action.body).encode()
                self.send_response(action.status)
                for name, value in action.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, stream: Stream) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Connection", "close")
                self.end_headers()
                for item in stream.lines:
                    line = item if isinstance(item, bytes) else json.dumps(item).encode()
                    self.wfile.write(line + b"\n")
                    self.wfile.flush()
                    time.sleep(stream.pause)
                time.sleep(stream.hold)
                self.close_connection = True

            do_GET = do_PUT = do_POST = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def of(self, method: str, prefix: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def serving(*scripts: Script) -> Iterator[list[FakeServer]]:
    servers = [FakeServer(s).start() for s in scripts]
    try:
        yield servers
    finally:
        for s in servers:
            s.stop()


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
