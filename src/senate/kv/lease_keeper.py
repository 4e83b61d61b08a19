"""The leader's lease clock: deadlines for the leases the state machine holds.

Rules this file keeps:
- Pure: it never reads a clock. Every method that needs the time takes `now`, a
  monotonic time in milliseconds supplied by the runtime (the simulator passes its
  simulated clock), so the same calls give the same answers.
- It decides nothing in the replicated state: `expired(now)` only names leases for
  the leader to propose LeaseRevoke for; the revocation happens when that command
  is applied (and `observe` then forgets the lease).
- Never shorter than the ttl: a deadline is set to now + ttl on grant, keepalive
  and `reset_all` (which a new leader calls, since the old leader's deadlines died
  with it). So across a failover a lease can outlive its ttl, never the reverse.
- Once a lease's deadline has passed it cannot be kept alive (keepalive answers
  None): its revocation may already be in the log. `expired` offers it again every
  `retry_ms` until the revoke is applied, in case a proposal was lost.

Theory of operation: `_ttl` and `_deadline` per lease, plus a heap of (deadline,
lease id) with lazy deletion: an entry whose deadline no longer matches the table
is skipped when popped. The heap is rebuilt when stale entries outnumber live ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from senate.kv.leases import Lease, LeaseAction, LeaseResult
from senate.kv.results import Result

DEFAULT_RETRY_MS = 1000


class LeaseKeeper:
    def __init__(self, *, retry_ms: int = DEFAULT_RETRY_MS) -> None:
        if retry_ms < 1:
            raise ValueError("retry_ms must be at least 1")
        self.retry_ms = retry_ms
        self._ttl: dict[int, int] = {}
        self._deadline: dict[int, int] = {}
        self._expiring: set[int] = set()  # deadline passed; revoke proposed or due
        self._heap: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return len(self._ttl)

    def __contains__(self, lease_id: object) -> bool:
        return lease_id in self._ttl

    def ttl(self, lease_id: int) -> int | None:
        return self._ttl.get(lease_id)

    # -- fed from applied commands (on every node, so a new leader knows them all) --

    def on_granted(self, lease_id: int, ttl_ms: int, now: int) -> None:
        """A LeaseGrant was applied. A lease already known keeps its deadline."""
        if lease_id in self._ttl:
            return  # a retried grant answered from the session cache
        self._ttl[lease_id] = ttl_ms
        self._set(lease_id, now + ttl_ms)

    def on_revoked(self, lease_id: int) -> None:
        """A LeaseRevoke was applied (or found the lease gone): forget it."""
        self._ttl.pop(lease_id, None)
        self._deadline.pop(lease_id, None)
        self._expiring.discard(lease_id)

    def observe(self, result: Result, now: int) -> None:
        """Feed any apply result; lease grants and revokes update the table."""
        if not isinstance(result, LeaseResult):
            return
        if result.action is LeaseAction.GRANT:
            if result.succeeded:
                self.on_granted(result.lease_id, result.ttl_ms, now)
        else:
            self.on_revoked(result.lease_id)

    # -- the leader's questions --

    def keepalive(self, lease_id: int, now: int) -> int | None:
        """Restart the lease's deadline at its full ttl and return the ttl.

        None if the lease is unknown or its deadline has already passed.
        """
        ttl = self._ttl.get(lease_id)
        if ttl is None or lease_id in self._expiring or self._deadline[lease_id] <= now:
            return None
        self._set(lease_id, now + ttl)
        return ttl

    def remaining(self, lease_id: int, now: int) -> int | None:
        """Milliseconds until the lease expires (0 if it has), None if unknown."""
        if lease_id not in self._ttl:
            return None
        if lease_id in self._expiring:
            return 0
        return max(0, self._deadline[lease_id] - now)

    def expired(self, now: int) -> list[int]:
        """Leases whose deadline has passed, earliest first: propose LeaseRevoke for each.

        A lease returned here is returned again after retry_ms if still not revoked.
        """
        out: list[int] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, lease_id = heapq.heappop(heap)
            if self._deadline.get(lease_id) != deadline:
                continue  # stale: the lease was kept alive, reset or revoked
            out.append(lease_id)
        for lease_id in out:
            self._expiring.add(lease_id)
            self._set(lease_id, now + self.retry_ms)
        return out

    def reset_all(self, now: int, leases: Iterable[Lease] | None = None) -> None:
        """Restart every deadline at its full ttl (call on becoming leader).

        With `leases` (for example `iter(store.leases)`), the table is first
        replaced by exactly those leases: use it after a snapshot install too.
        """
        if leases is not None:
            self._ttl = {lease.lease_id: lease.ttl_ms for lease in leases}
        self._expiring.clear()
        self._deadline = {lease_id: now + ttl for lease_id, ttl in self._ttl.items()}
        self._heap = [(deadline, lease_id) for lease_id, deadline in self._deadline.items()]
        heapq.heapify(self._heap)

    def _set(self, lease_id: int, deadline: int) -> None:
        self._deadline[lease_id] = deadline
        heapq.heappush(self._heap, (deadline, lease_id))
        if len(self._heap) > 2 * len(self._deadline) + 64:
            self._heap = [(d, i) for i, d in self._deadline.items()]
            heapq.heapify(self._heap)
