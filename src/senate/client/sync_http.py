"""A small keep-alive HTTP/1.1 connection pool on http.client, for the sync client.

Rules this file keeps:
- Connections to each base URL are reused (keep-alive) and owned by one request at
  a time; a connection that failed or that the server will close is dropped.
- Failures are classified for retry.py: a refused connect is NOT_SENT; anything
  after the connection was up (reset, timeout, a keep-alive socket the server had
  closed) is UNKNOWN, since the request may have reached the server.
- `fresh=True` uses a new connection, for requests that must not meet a stale
  keep-alive socket (a ONCE call would then be given up as outcome unknown).
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections.abc import Mapping

from senate.client.calls import Reply
from senate.client.retry import AttemptFailed, Outcome

MAX_IDLE = 8  # idle connections kept per endpoint


def _host_port(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def open_connection(url: str, timeout: float) -> http.client.HTTPConnection:
    """A connected HTTPConnection; AttemptFailed(NOT_SENT) if the connect fails."""
    host, port = _host_port(url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.connect()
    except OSError as exc:
        conn.close()
        raise AttemptFailed(Outcome.NOT_SENT, f"{url}: {exc}") from None
    return conn


class Pool:
    def __init__(self) -> None:
        self._idle: dict[str, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def request(
        self,
        url: str,
        method: str,
        target: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: float,
        *,
        fresh: bool = False,
    ) -> Reply:
        conn = None if fresh else self._take(url)
        reused = conn is not None
        if conn is not None:
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                return self._exchange(url, conn, method, target, body, headers)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed this idle keep-alive connection before our
                # request reached it: say it again on a new connection.
                conn.close()
        try:
            conn = open_connection(url, timeout)
        except AttemptFailed as exc:
            if reused:  # the first try may have reached a server that then died
                raise AttemptFailed(Outcome.UNKNOWN, str(exc)) from None
            raise
        try:
            return self._exchange(url, conn, method, target, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            reason = str(exc) or type(exc).__name__
            raise AttemptFailed(Outcome.UNKNOWN, f"{url}: {reason}") from None

    def _exchange(
        self,
        url: str,
        conn: http.client.HTTPConnection,
        method: str,
        target: str,
        body: bytes | None,
        headers: Mapping[str, str],
    ) -> Reply:
        try:
            conn.request(method, target, body=body, headers=dict(headers))
            resp = conn.getresponse()
            data = resp.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            raise
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            reason = str(exc) or type(exc).__name__
            raise AttemptFailed(Outcome.UNKNOWN, f"{url}: {reason}") from None
        reply = Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        if resp.will_close:
            conn.close()
        else:
            self._give_back(url, conn)
        return reply

    def _take(self, url: str) -> http.client.HTTPConnection | None:
        with self._lock:
            idle = self._idle.get(url)
            return idle.pop() if idle else None

    def _give_back(self, url: str, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(url, [])
            if self._closed or len(idle) >= MAX_IDLE:
                conn.close()
            else:
                idle.append(conn)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()


__all__ = ["Pool", "open_connection"]
