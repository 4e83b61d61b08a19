"""A blocking watch: an iterator of events over a streamed HTTP response that
reconnects by itself (cursor in watch.py) when the stream drops.

Rules this file keeps:
- Reconnects after a dropped connection, an end of stream, an idle stream (no
  line, not even a progress line, for `idle_timeout`) or a 503, each time on the
  next endpoint, with the client's backoff and within its retry budget; the
  budget starts afresh when a stream that delivered lines drops, so a watch
  that ran for hours still rides out an election. Errors a retry cannot fix
  (400, 404, 410 compacted) are raised.
- `close()` may be called from another thread: it shuts the socket, which ends a
  blocked read, and the iterator then stops.
- Without a start revision it pins "now" when created (see watch.py).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from senate.client import calls
from senate.client.calls import Reply, error_for
from senate.client.errors import ClientError
from senate.client.retry import AttemptFailed, Outcome, Retrier
from senate.client.sync_http import open_connection
from senate.client.types import Event
from senate.client.watch import WatchCursor

if TYPE_CHECKING:
    from senate.client.sync import Client


class _Closed(Exception):
    pass


class Watch:
    def __init__(
        self,
        client: Client,
        key: str | None,
        prefix: str | None,
        start_revision: int | None,
        idle_timeout: float,
    ) -> None:
        self.client = client
        self.cursor = WatchCursor(key, prefix, start_revision, idle_timeout / 3)
        self.idle_timeout = idle_timeout
        self.reconnects = 0  # connections opened after the first (for tests, logs)
        self._closed = threading.Event()
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        if self.cursor.next_revision is None:
            # "From now" means from this call, not from the first next(): pin it here.
            revision, _ = client.range(self.cursor.scope)
            self.cursor.pin(revision)
        self._events = self._stream()

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        return next(self._events)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            conn = self._conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    def _stream(self) -> Iterator[Event]:
        retrier = self._retrier()
        opened = 0
        while not self._closed.is_set():
            url = self.client.endpoints.current
            try:
                resp = self._open(url)
            except _Closed:
                return
            except AttemptFailed as exc:
                self.client.endpoints.failed(url)
                self._sleep(retrier.failed(exc.outcome, str(exc)))
                continue
            except ClientError as exc:
                if exc.status != 503:
                    raise
                self.client.endpoints.failed(url)
                self._sleep(retrier.failed(Outcome.REFUSED, f"{url}: {exc}"))
                continue
            self.reconnects += opened > 0
            opened += 1
            delivered = False
            try:
                while True:
                    line = resp.readline()
                    if not line:
                        break  # the server ended the stream: resume elsewhere
                    delivered = True
                    event = self.cursor.feed(line)
                    if event is not None:
                        yield event
            except (OSError, http.client.HTTPException):
                pass  # dropped, idle or closed: resume from the cursor
            finally:
                self._drop()
            if self._closed.is_set():
                return
            self.client.endpoints.failed(url)
            if delivered:  # this connection worked: a fresh budget from now on
                retrier = self._retrier()
            self._sleep(retrier.failed(Outcome.UNKNOWN, f"{url}: the watch stream ended"))

    def _retrier(self) -> Retrier:
        return Retrier(calls.Kind.READ, self.client.retry, len(self.client.endpoints.urls))

    def _open(self, url: str) -> http.client.HTTPResponse:
        conn = open_connection(url, self.idle_timeout)
        with self._lock:
            self._conn = conn
        if self._closed.is_set():
            self._drop()
            raise _Closed
        try:
            conn.request("GET", self.cursor.target(), headers={"Accept": "application/x-ndjson"})
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise AttemptFailed(Outcome.UNKNOWN, f"{url}: {exc}") from None
        if resp.status != 200:
            try:
                body = resp.read()
            except (OSError, http.client.HTTPException):
                body = b""
            self._drop()
            headers = {k.lower(): v for k, v in resp.getheaders()}
            raise error_for(Reply(resp.status, headers, body))
        return resp

    def _drop(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _sleep(self, seconds: float) -> None:
        self._closed.wait(seconds)


__all__ = ["Watch"]
