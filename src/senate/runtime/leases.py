"""Leases at run time: the leader's lease clock, expiry proposals, and lease questions
a follower asks the leader over the peer transport.

Rules this file keeps:
- The state machine holds only (id, ttl, keys); deadlines live in a LeaseKeeper
  (kv/lease_keeper.py) on every node, fed with every applied result, so a new
  leader knows every lease. Only the leader's deadlines matter: on winning an
  election it restarts them all at their full ttl (a lease may outlive its ttl
  across a failover, never the reverse), and on each tick it proposes LeaseRevoke
  for every expired lease. Time is this process's monotonic clock in ms.
- Revocations are proposed through one server lane (runtime/lanes.py) whose seqs
  follow log order, since the leader proposes them one after the other; a lost
  one is offered again by the keeper after its retry interval.
- Keepalive and "time remaining" are questions for the leader's clock, not log
  commands. A follower asks the leader with a LeaseAsk (kind "lease") and waits
  for the LeaseReply with the same request id; no reply in time -> Unavailable
  (503). A reply of -1 means the leader does not know the lease or its deadline
  has passed (404): its revocation may already be in the log.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from senate.consensus.engine import Engine
from senate.consensus.types import Message, Role
from senate.errors import MalformedInput, NotLeader, ProposalDropped
from senate.kv import LeaseKeeper, LeaseRevoke, Request, Result, encode_request
from senate.runtime.lanes import Lane
from senate.wire.codec import MAX_ID_LEN, Codec

LEASE_KIND: Final = "lease"
ASK_TIMEOUT = 2.0  # seconds a follower waits for the leader's answer
_ASK, _REPLY = 0, 1
_MAX_INT = (1 << 63) - 1


@dataclass(slots=True, frozen=True)
class LeaseAsk:
    src: str
    dst: str
    rid: int
    lease_id: int
    keepalive: bool  # restart the deadline (True) or only report it (False)

    def to_wire(self) -> list[object]:
        return [_ASK, self.src, self.dst, self.rid, self.lease_id, self.keepalive]


@dataclass(slots=True, frozen=True)
class LeaseReply:
    src: str
    dst: str
    rid: int
    ttl_ms: int  # -1: unknown lease or already expired
    remaining_ms: int

    def to_wire(self) -> list[object]:
        return [_REPLY, self.src, self.dst, self.rid, self.ttl_ms, self.remaining_ms]


def lease_message_from_wire(obj: object) -> LeaseAsk | LeaseReply:
    """Decode untrusted wire data; raises only MalformedInput."""
    if not (isinstance(obj, list) and len(obj) == 6):
        raise MalformedInput("bad lease message: expected a 6-field list")
    tag, src, dst, rid = obj[0], obj[1], obj[2], obj[3]
    for name, value in (("src", src), ("dst", dst)):
        if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LEN:
            raise MalformedInput(f"bad lease message: {name} must be a node id")
    assert isinstance(src, str) and isinstance(dst, str)
    rid_ok = _int(rid, 0)
    if tag == _ASK and isinstance(obj[5], bool):
        return LeaseAsk(src, dst, rid_ok, _int(obj[4], 1), obj[5])
    if tag == _REPLY:
        return LeaseReply(src, dst, rid_ok, _int(obj[4], -1), _int(obj[5], -1))
    raise MalformedInput(f"bad lease message: tag {tag!r}")


def _int(value: object, low: int) -> int:
    if type(value) is not int or not low <= value <= _MAX_INT:
        raise MalformedInput("bad lease message: an integer is out of range")
    return value


def register_lease_messages(codec: Codec) -> None:
    codec.register(LEASE_KIND, lease_message_from_wire)


@dataclass(slots=True, frozen=True)
class LeaseTime:
    ttl_ms: int
    remaining_ms: int


class LeaseClock:
    """One node's lease deadlines and its side of the LeaseAsk/LeaseReply exchange."""

    def __init__(
        self,
        node_id: str,
        engine: Engine,
        send: Callable[[Message, str], None],
        kick: Callable[[], None],
        lane: Lane,
        now_ms: Callable[[], int],
    ) -> None:
        self.node_id = node_id
        self.engine = engine
        self.keeper = LeaseKeeper()
        self._send = send
        self._kick = kick
        self._lane = lane
        self._now = now_ms
        self._rids = itertools.count(1)
        self._asked: dict[int, asyncio.Future[LeaseTime | None]] = {}

    # ---- fed by the node -----------------------------------------------------

    def observe(self, result: Result) -> None:
        self.keeper.observe(result, self._now())

    def reset(self, leases: object | None = None) -> None:
        """Restart every deadline (became leader; or a snapshot replaced the table)."""
        self.keeper.reset_all(self._now(), leases)  # type: ignore[arg-type]

    def tick(self) -> None:
        """Leader: propose a revocation for every lease whose deadline passed."""
        if self.engine.status().role != Role.LEADER:
            return
        for lease_id in self.keeper.expired(self._now()):
            req = Request(self._lane.client_id, self._lane.next(), LeaseRevoke(lease_id))
            try:
                self.engine.propose(encode_request(req))
            except (NotLeader, ProposalDropped):
                return  # the next leader revokes it
            self._kick()

    # ---- questions for the leader's clock -----------------------------------

    def local(self, lease_id: int, keepalive: bool) -> LeaseTime | None:
        now = self._now()
        if keepalive:
            ttl = self.keeper.keepalive(lease_id, now)
            return None if ttl is None else LeaseTime(ttl, ttl)
        ttl = self.keeper.ttl(lease_id)
        remaining = self.keeper.remaining(lease_id, now)
        if ttl is None or remaining is None:
            return None
        return LeaseTime(ttl, remaining)

    async def ask(self, lease_id: int, keepalive: bool) -> LeaseTime | None:
        """Ask the leader (or answer, if leader). Raises NotLeader or TimeoutError."""
        st = self.engine.status()
        if st.role == Role.LEADER:
            return self.local(lease_id, keepalive)
        if st.leader is None or st.leader == self.node_id:
            raise NotLeader(None)
        rid = next(self._rids)
        fut: asyncio.Future[LeaseTime | None] = asyncio.get_running_loop().create_future()
        self._asked[rid] = fut
        try:
            self._send(LeaseAsk(self.node_id, st.leader, rid, lease_id, keepalive), LEASE_KIND)
            async with asyncio.timeout(ASK_TIMEOUT):
                return await fut
        finally:
            self._asked.pop(rid, None)

    def on_message(self, msg: LeaseAsk | LeaseReply) -> None:
        if isinstance(msg, LeaseReply):
            fut = self._asked.get(msg.rid)
            if fut is not None and not fut.done():
                answer = None if msg.ttl_ms < 0 else LeaseTime(msg.ttl_ms, msg.remaining_ms)
                fut.set_result(answer)
            return
        if self.engine.status().role != Role.LEADER:
            return  # the asker times out and asks whoever leads then
        got = self.local(msg.lease_id, msg.keepalive)
        ttl, remaining = (-1, -1) if got is None else (got.ttl_ms, got.remaining_ms)
        self._send(LeaseReply(self.node_id, msg.src, msg.rid, ttl, remaining), LEASE_KIND)
