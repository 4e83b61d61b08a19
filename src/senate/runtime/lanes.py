"""Server-assigned client sessions ("lanes") for writes that came without X-Senate-Client.

Why lanes: every write needs a (client id, seq) so a retried proposal applies once
(kv/sessions.py). A fresh client id per write would flood the bounded session
table and evict real clients' sessions; one shared id would make concurrent writes
race (a retry of seq 4 after seq 5 applied is rejected as stale). So the node keeps
a pool of client ids, each with at most one write in flight: a write borrows a
free lane, uses its next seq for every retry, and gives the lane back when done.

Rules this file keeps:
- A lane's seqs strictly increase, and a lane is never lent twice at once, so
  writes of one lane reach the log in seq order unless one was abandoned (timed
  out); an abandoned write that is applied later than its successor is refused
  as stale, which is an allowed outcome of a write reported "unknown" (504).
- Lane ids carry a random per-process nonce, so a restarted node never reuses an
  old session with a lower seq.
- The pool grows to the peak concurrency of the node and no further.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field


@dataclass(slots=True)
class Lane:
    client_id: str
    seq: int = 0

    def next(self) -> int:
        self.seq += 1
        return self.seq


@dataclass(slots=True)
class LanePool:
    node_id: str
    nonce: str = field(default_factory=lambda: secrets.token_hex(6))
    _free: list[Lane] = field(default_factory=list)
    _count: int = 0

    def borrow(self) -> Lane:
        if self._free:
            return self._free.pop()
        self._count += 1
        return Lane(f"{self.node_id}.{self.nonce}.{self._count}")

    def give_back(self, lane: Lane) -> None:
        self._free.append(lane)

    @property
    def size(self) -> int:
        return self._count
