"""Watches: the store's recent event history and live subscriptions to it.

Rules this file keeps:
- Every revision the store creates produces at least one event (a put or a delete;
  a txn or a lease revoke produces several at one revision), and the store hands
  each revision's events to `publish` in revision order once its apply is complete.
  So the history is a contiguous run of revisions, (compacted, revision], and a
  revision's events are either all retained or all dropped.
- Bounded: the oldest revisions are dropped while the history holds more than
  `max_events` events or `max_bytes` of keys and values (the newest revision is
  always kept). A start revision at or before the dropped ones raises Compacted.
- Not in the snapshot: the history is a cache of the log, not state. After a
  restore (KVStore.restore, `reset`) the oldest available revision is the
  snapshot's revision + 1; watchers that had not reached it are closed with
  Compacted, the rest keep going.
- Exactly once, in order: a Watcher delivers each matching event with revision >=
  its `next_revision` once, then advances `next_revision` past the hub's revision.
  Resuming with start_revision = last seen revision + 1 therefore neither skips nor
  repeats an event.
- Synchronous and I/O free: callbacks run inside `publish` (inside the store's
  apply) on the caller's thread; the runtime bridges them to asyncio (for example
  `queue.put_nowait`). A callback that raises closes its own watcher (the error is
  kept in `Watcher.error`); it never breaks the apply or other watchers.
"""

from __future__ import annotations

import enum
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from senate.errors import MalformedInput, SenateError
from senate.kv.results import KeyValue

DEFAULT_MAX_EVENTS = 10_000
DEFAULT_MAX_BYTES = 64 << 20


class Compacted(SenateError):
    """The requested start revision is older than the retained history.

    `oldest_revision` is the oldest revision a watch may start from now.
    """

    def __init__(self, oldest_revision: int) -> None:
        self.oldest_revision = oldest_revision
        super().__init__(
            f"revision compacted: the oldest revision still available is {oldest_revision}"
        )


class EventKind(enum.Enum):
    PUT = "put"
    DELETE = "delete"


@dataclass(slots=True, frozen=True)
class Event:
    """One change. kv: the key after a put, None after a delete. prev: before."""

    kind: EventKind
    key: str
    revision: int
    kv: KeyValue | None
    prev: KeyValue | None

    @property
    def value(self) -> bytes:
        return b"" if self.kv is None else self.kv.value

    def size(self) -> int:
        """About the bytes of keys and values this event keeps alive (the history bound)."""
        return _size(self)


def _size(e: Event) -> int:
    kv, prev = e.kv, e.prev
    return (
        len(e.key) + (0 if kv is None else len(kv.value)) + (0 if prev is None else len(prev.value))
    )


def _matches(event: Event, key: str | None, prefix: str | None) -> bool:
    if key is not None:
        return event.key == key
    return prefix is None or event.key.startswith(prefix)


def _check_filter(key: str | None, prefix: str | None) -> None:
    if key is not None and prefix is not None:
        raise MalformedInput("watch a key or a prefix, not both")


def _check_start(start_revision: object) -> int:
    if type(start_revision) is not int or start_revision < 1:
        raise MalformedInput(f"start revision must be an integer >= 1, got {start_revision!r}")
    return start_revision


OnEvents = Callable[[list["Event"]], None]
OnClose = Callable[["Watcher"], None]


class Watcher:
    """One subscription. Made by WatchHub.watch; closed by `cancel` or by the hub."""

    def __init__(
        self,
        hub: WatchHub,
        next_revision: int,
        key: str | None,
        prefix: str | None,
        on_events: OnEvents,
        on_close: OnClose | None,
    ) -> None:
        self.hub = hub
        self.next_revision = next_revision  # the first revision not yet delivered
        self.key = key
        self.prefix = prefix
        self.on_events = on_events
        self.on_close = on_close
        self.closed = False
        self.error: BaseException | None = None  # Compacted, or what a callback raised

    def cancel(self) -> None:
        self.hub.cancel(self)

    def _deliver(self, revision: int, events: list[Event]) -> None:
        if revision < self.next_revision:
            return  # seen already (or a start revision in the future)
        self.next_revision = revision + 1
        chosen = [e for e in events if _matches(e, self.key, self.prefix)]
        if chosen:
            self.on_events(chosen)


class WatchHub:
    def __init__(
        self, *, max_events: int = DEFAULT_MAX_EVENTS, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if max_events < 1 or max_bytes < 1:
            raise ValueError("max_events and max_bytes must be at least 1")
        self.max_events = max_events
        self.max_bytes = max_bytes
        # One item per revision: (revision, its events, their size).
        self._history: deque[tuple[int, list[Event], int]] = deque()
        self._compacted = 0  # every revision <= this one is gone
        self._revision = 0  # the newest revision published (or restored)
        self._events = 0
        self._bytes = 0
        self._watchers: list[Watcher] = []

    @property
    def revision(self) -> int:
        """The newest revision the hub knows of (the store's revision)."""
        return self._revision

    @property
    def oldest_revision(self) -> int:
        """The oldest revision a watch may start from."""
        return self._compacted + 1

    @property
    def watchers(self) -> list[Watcher]:
        return list(self._watchers)

    def events_since(
        self, start_revision: int, key: str | None = None, prefix: str | None = None
    ) -> list[Event]:
        """Retained events with revision >= start_revision, oldest first, filtered.

        Raises Compacted if start_revision is older than the history, MalformedInput
        if it is below 1 or both key and prefix are given.
        """
        _check_filter(key, prefix)
        _check_start(start_revision)
        if start_revision <= self._compacted:
            raise Compacted(self.oldest_revision)
        skip = max(0, start_revision - self.oldest_revision)  # revisions are contiguous
        out: list[Event] = []
        for _, events, _ in itertools.islice(self._history, skip, None):
            out.extend(e for e in events if _matches(e, key, prefix))
        return out

    def watch(
        self,
        start_revision: int | None,
        on_events: OnEvents,
        *,
        key: str | None = None,
        prefix: str | None = None,
        on_close: OnClose | None = None,
    ) -> Watcher:
        """Subscribe from `start_revision` (None: the next revision).

        Retained events from start_revision on are delivered to `on_events` before
        this returns; later ones as they are published. Raises like events_since.
        """
        _check_filter(key, prefix)
        start = self._revision + 1 if start_revision is None else _check_start(start_revision)
        backlog = self.events_since(start, key, prefix) if start <= self._revision else []
        watcher = Watcher(self, max(start, self._revision + 1), key, prefix, on_events, on_close)
        self._watchers.append(watcher)
        if backlog:
            self._call(watcher, backlog)
        return watcher

    def cancel(self, watcher: Watcher, error: BaseException | None = None) -> None:
        if watcher.closed:
            return
        watcher.closed = True
        watcher.error = error
        self._watchers.remove(watcher)
        if watcher.on_close is not None:
            try:
                watcher.on_close(watcher)
            except Exception as exc:  # a broken callback must not break the apply
                watcher.error = watcher.error or exc

    def _call(self, watcher: Watcher, events: list[Event]) -> None:
        try:
            watcher.on_events(events)
        except Exception as exc:
            self.cancel(watcher, exc)

    # -- fed by the store --

    def publish(self, revision: int, events: list[Event]) -> None:
        """Record `revision`'s events and notify watchers (called by the store)."""
        if revision != self._revision + 1:
            # A gap: this hub missed revisions (it was not reset after a restore).
            self.reset(revision - 1)
        self._revision = revision
        size = sum(map(_size, events))
        self._history.append((revision, events, size))
        self._events += len(events)
        self._bytes += size
        while len(self._history) > 1 and (
            self._events > self.max_events or self._bytes > self.max_bytes
        ):
            old_revision, old, old_size = self._history.popleft()
            self._events -= len(old)
            self._bytes -= old_size
            self._compacted = old_revision
        if not self._watchers:
            return
        for watcher in list(self._watchers):
            if watcher.closed:
                continue
            try:
                watcher._deliver(revision, events)
            except Exception as exc:
                self.cancel(watcher, exc)

    def reset(self, revision: int) -> None:
        """The store now stands at `revision` with no known history (a restore)."""
        if revision == self._revision and self._history:
            return  # same revision of the same log: the history is still right
        self._history.clear()
        self._events = self._bytes = 0
        self._compacted = revision
        self._revision = revision
        for watcher in list(self._watchers):
            if watcher.next_revision <= revision:
                self.cancel(watcher, Compacted(self.oldest_revision))
