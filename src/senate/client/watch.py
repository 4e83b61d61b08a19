"""The state of a resumable watch: where to (re)connect and which lines to pass on.

Rules this file keeps:
- Pure; both clients feed it the stream's lines and ask it where to reconnect.
- A revision's events arrive together (kv/watch.py publishes them at once), so
  after an event at revision r the next connection starts at r + 1, and after a
  progress line at r also at r + 1 (nothing up to r is left to see): neither a
  gap nor a repeat. Events below the current connection's start are dropped all
  the same, in case a server sends them.
- Values travel as base64 (`encoding=base64`), so any bytes survive. The server
  sends a progress line after `progress_interval` s of silence; a stream silent
  for much longer is dead and the client reconnects (idle timeout).
- An "error" line is the server's last word: `compacted` is raised as Compacted;
  any other (too_slow, closed) just ends this connection and the watch resumes.
- A watch that was asked to start "now" (no start revision) must still resume
  without a gap if its first connection drops before any event, so the client
  pins "now" first with a read of the watched keys (their revision + 1).
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from dataclasses import dataclass

from senate.client.errors import BadRequest, Compacted, ServerError
from senate.client.types import Event


@dataclass(slots=True)
class WatchCursor:
    key: str | None
    prefix: str | None
    next_revision: int | None  # where the next connection starts
    progress_interval: float = 5.0
    connection_start: int = 0

    def __post_init__(self) -> None:
        if (self.key is None) == (self.prefix is None):
            raise BadRequest("watch takes exactly one of key or prefix")
        if self.key == "":
            raise BadRequest("watch: the key must not be empty")
        if self.next_revision is not None and self.next_revision < 1:
            raise BadRequest("watch: start_revision must be >= 1")

    @property
    def scope(self) -> str:
        """The watched key, or the prefix (for pinning "now" with a read)."""
        return self.key if self.key is not None else (self.prefix or "")

    def pin(self, revision: int) -> None:
        """Start at `revision` + 1 when no start revision was given."""
        if self.next_revision is None:
            self.next_revision = revision + 1

    def target(self) -> str:
        """Path and query of the next connection; call it once per connection."""
        if self.next_revision is None:
            raise BadRequest("watch: the start revision is not pinned")
        self.connection_start = self.next_revision
        query: dict[str, str] = {}
        if self.key is not None:
            query["key"] = self.key
        else:
            query["prefix"] = self.prefix or ""
        query["start_revision"] = str(self.next_revision)
        query["encoding"] = "base64"
        query["progress_interval"] = f"{self.progress_interval:g}"
        return "/v1/watch?" + urllib.parse.urlencode(query)

    def feed(self, line: bytes) -> Event | None:
        """One line of the stream: the event to pass on, or None."""
        line = line.strip()
        if not line:
            return None
        try:
            doc = json.loads(line)
            kind = doc["type"]
            if kind == "error":
                return self._error(doc)
            revision = int(doc["revision"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ServerError(f"malformed watch line: {exc!r}") from None
        if kind == "progress":
            self._advance(revision + 1)
            return None
        if kind not in ("put", "delete"):
            raise ServerError(f"unknown watch event type {kind!r}")
        if revision < self.connection_start:
            return None  # already passed on by an earlier connection
        self._advance(revision + 1)
        try:
            value = _value(doc) if kind == "put" else None
        except ValueError:
            raise ServerError("malformed watch line: a value that is not base64") from None
        return Event(kind, str(doc["key"]), value, revision)

    @staticmethod
    def _error(doc: dict[str, object]) -> None:
        if doc.get("error") == "compacted":
            oldest = doc.get("oldest_revision")
            raise Compacted(
                str(doc.get("message") or "revision compacted"),
                code="compacted",
                oldest_revision=oldest if isinstance(oldest, int) else None,
            )
        return None  # the stream ends here; the watch resumes from the cursor

    def _advance(self, revision: int) -> None:
        if self.next_revision is None or revision > self.next_revision:
            self.next_revision = revision


def _value(doc: dict[str, object]) -> bytes:
    value = doc.get("value")
    if not isinstance(value, str):
        raise ServerError("malformed watch line: a put without a value")
    return base64.b64decode(value, validate=True)


__all__ = ["WatchCursor"]
