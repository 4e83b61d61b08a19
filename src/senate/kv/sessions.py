"""Client sessions: apply each (client id, sequence number) at most once.

Raft thesis 6.3: a client that times out retries the same command with the same
sequence number; the state machine remembers, per client, the last sequence it
applied and that command's result, and answers a retry from this memory.

Rules this file keeps:
- Deterministic: the table changes only in `record`, called from the store's
  apply, so every replica holds the same table at the same applied index.
- A seq equal to the client's last is a duplicate (answer the cached result); a
  smaller one is stale (the client already saw a later answer); a larger one is
  new. Gaps are allowed: a client may give up on a request and move on.
- Bounded: over `max_sessions`, the session whose last apply index is oldest is
  evicted. Every touch moves a session to the end, and apply indexes only grow, so
  insertion order *is* last-index order and eviction is popping the first item.
  A client whose session was evicted loses its duplicate protection; the bound
  is large so this needs ~max_sessions other clients to be active in between.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from senate.kv.results import Result

DEFAULT_MAX_SESSIONS = 10_000


@dataclass(slots=True, frozen=True)
class Session:
    client_id: str
    last_seq: int
    last_index: int  # the log index that last touched this session
    result: Result  # the result of applying `last_seq`


class SessionTable:
    def __init__(self, max_sessions: int = DEFAULT_MAX_SESSIONS) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        """Sessions from the oldest last index to the newest (the eviction order)."""
        return iter(self._sessions.values())

    def get(self, client_id: str) -> Session | None:
        return self._sessions.get(client_id)

    def record(self, client_id: str, seq: int, index: int, result: Result) -> None:
        """Remember that `client_id`'s `seq` was applied at `index` with `result`."""
        self._sessions[client_id] = Session(client_id, seq, index, result)
        self._sessions.move_to_end(client_id)
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)

    def touch(self, client_id: str, index: int) -> None:
        """A retry or stale request from a known client still counts as activity."""
        old = self._sessions[client_id]
        self._sessions[client_id] = Session(client_id, old.last_seq, index, old.result)
        self._sessions.move_to_end(client_id)

    def load(self, sessions: list[Session]) -> None:
        """Replace the table (from a snapshot); `sessions` in any order."""
        self._sessions.clear()
        for session in sorted(sessions, key=lambda s: s.last_index):
            self._sessions[session.client_id] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
