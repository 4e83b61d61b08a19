"""Where each member listens, and the initial configuration, kept by every node.

The engine (Raft, Multi-Paxos or ZAB) decides *who* the members are (the
snapshot's membership, then every CONF_CHANGE entry in the log). This file keeps
what the engine does not know: each
member's peer and HTTP addresses, so the transport can reach it and clients can
be pointed at it.

Rules this file keeps:
- Addresses come from `--cluster` (the initial members) and from the context of
  each applied ADD_LEARNER entry ({"peer": "host:port", "http": "host:port"},
  msgpack); an applied REMOVE forgets the member. Everything here follows
  *applied* entries, so a change that is later truncated never reaches it (the
  leader's not-yet-applied additions live in Node, not here).
- `base` is the voter set before any log entry: the cluster's initial members.
  A node started with `--join` leaves itself out of it, so it never campaigns
  until the log (or a snapshot) makes it a voter.
- The book is saved to DATA_DIR/members.json (temp file, fsync, rename, fsync of
  the directory) whenever it changes, and read back on restart, where it wins
  over `--cluster`: the log, not the command line, says who the members are.
  It is a cache of the log: a restart replays the committed entries after the
  snapshot through `apply` again, which yields the same book.
- Decoding trusts nothing: a bad context is ignored with None (the entry still
  changes membership, only the address is unknown), a bad file is a StorageError.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from senate.consensus.engine import Engine
from senate.consensus.types import ConfChange, ConfChangeOp, Entry, Membership, Role
from senate.errors import (
    ConfigChangeInProgress,
    ConsensusError,
    NotLeader,
    SenateError,
    StorageError,
    UsageError,
)
from senate.runtime.config import Addr, check_node_id, format_addr, parse_addr
from senate.runtime.transport import Transport

logger = logging.getLogger("senate.node")

BOOK_FILE = "members.json"
_MAX_CONTEXT = 1024
_POLL = 0.02  # seconds between looks at the applied index while a change commits


class NotLeaderHere(SenateError):
    """Membership changes go to the leader (HTTP 503 naming the leader's address)."""

    def __init__(self, leader: str | None, leader_http: str | None) -> None:
        where = "no leader is known" if leader is None else f"the leader is {leader}"
        if leader_http is not None:
            where += f" at http {leader_http}"
        super().__init__(f"membership changes go to the leader; {where}")
        self.leader_http = leader_http


class MemberConflict(SenateError):
    """The change contradicts the configuration (HTTP 409)."""


class NotAMember(SenateError):
    """No such member (HTTP 404)."""


class ChangeTimeout(SenateError):
    """Proposed but not seen applied in time: it may or may not take effect (HTTP 504)."""


@dataclass(slots=True, frozen=True)
class MemberAddr:
    peer: Addr
    http: str | None = None  # host:port of its HTTP API, when known


def encode_context(peer: Addr, http: str) -> bytes:
    """The ADD_LEARNER context naming a new member's addresses."""
    return msgpack.packb({"peer": format_addr(peer), "http": http})


def decode_context(data: bytes) -> MemberAddr | None:
    """The addresses in an ADD_LEARNER context; None for anything malformed."""
    if not data or len(data) > _MAX_CONTEXT:
        return None
    try:
        obj = msgpack.unpackb(data, raw=False)
    except Exception:
        return None
    if not isinstance(obj, dict):
        return None
    peer, http = obj.get("peer"), obj.get("http")
    if not isinstance(peer, str) or not isinstance(http, str):
        return None
    try:
        parse_addr(http, "http")
        return MemberAddr(parse_addr(peer, "peer"), http)
    except UsageError:
        return None


@dataclass(slots=True)
class MemberBook:
    path: Path
    node_id: str
    base: frozenset[str]  # voters before any log entry
    addrs: dict[str, MemberAddr]
    removed: bool = False  # an applied REMOVE took this node out

    @classmethod
    def open(
        cls,
        data_dir: Path,
        node_id: str,
        cluster: dict[str, Addr],
        http: str,
        *,
        join: bool,
    ) -> MemberBook:
        """The book saved in `data_dir`, or a new one from the flags (and saved)."""
        path = data_dir / BOOK_FILE
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"data dir {data_dir} is unusable: {exc.strerror or exc}") from None
        if path.exists():
            book = cls._load(path, node_id)
        else:
            # For a joiner this is only a guess (today's members, voter or not): Raft
            # replaces it with the initial membership at the log's CONF_BOOTSTRAP
            # entry, or with a snapshot's (raft/membership.py), before it counts.
            base = frozenset(cluster) - {node_id} if join else frozenset(cluster)
            if not base:
                raise UsageError("--join: --cluster must list the existing members too")
            addrs = {nid: MemberAddr(addr) for nid, addr in cluster.items()}
            book = cls(path, node_id, base, addrs)
        # This node's own addresses are the ones it runs with now.
        book.addrs[node_id] = MemberAddr(cluster[node_id], http)
        book.save()
        return book

    @classmethod
    def _load(cls, path: Path, node_id: str) -> MemberBook:
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
            base = frozenset(check_node_id(n, BOOK_FILE) for n in obj["base"])
            addrs: dict[str, MemberAddr] = {}
            for nid, entry in obj["addrs"].items():
                http = entry.get("http")
                if http is not None and not isinstance(http, str):
                    raise TypeError("http must be a string")
                addrs[check_node_id(nid, BOOK_FILE)] = MemberAddr(
                    parse_addr(entry["peer"], BOOK_FILE), http
                )
            removed = bool(obj.get("removed", False))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, UsageError) as exc:
            raise StorageError(f"{path} is unreadable: {exc}") from None
        if not base:
            raise StorageError(f"{path} lists no initial voters")
        return cls(path, node_id, base, addrs, removed)

    def save(self) -> None:
        doc = {
            "base": sorted(self.base),
            "addrs": {
                nid: {"peer": format_addr(a.peer), "http": a.http}
                for nid, a in sorted(self.addrs.items())
            },
            "removed": self.removed,
        }
        tmp = self.path.with_suffix(".tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise StorageError(f"cannot save {self.path}: {exc.strerror or exc}") from None

    def apply(self, cc: ConfChange) -> bool:
        """Account for an applied membership step; True (and saved) if anything changed."""
        changed = False
        if cc.op == ConfChangeOp.ADD_LEARNER:
            addr = decode_context(cc.context)
            if addr is not None and cc.node != self.node_id and self.addrs.get(cc.node) != addr:
                self.addrs[cc.node] = addr
                changed = True
            if cc.node == self.node_id and self.removed:
                self.removed, changed = False, True
        elif cc.op == ConfChangeOp.REMOVE:
            if cc.node == self.node_id:
                changed = not self.removed
                self.removed = True
            elif self.addrs.pop(cc.node, None) is not None:
                changed = True
        if changed:
            self.save()
        return changed

    def retain(self, members: frozenset[str]) -> bool:
        """Forget members a snapshot no longer lists; True (and saved) if any."""
        gone = [nid for nid in self.addrs if nid not in members and nid != self.node_id]
        for nid in gone:
            del self.addrs[nid]
        if gone:
            self.save()
        return bool(gone)

    def peers(self) -> dict[str, Addr]:
        """Peer addresses of every other member this node knows of (none once removed)."""
        if self.removed:
            return {}
        return {nid: a.peer for nid, a in self.addrs.items() if nid != self.node_id}


@dataclass(slots=True)
class Members:
    """The runtime side of membership: the book, the transport's peers, the
    leader's promotion of caught-up learners, and the add/remove operations.

    Theory: a change is proposed on the leader (ADD_LEARNER with the new
    member's addresses as context, or REMOVE), then the caller waits until this
    node *applied* a configuration that has it (so the answer means committed).
    Until its ADD_LEARNER is applied the leader keeps the new member's address
    in `pending`, so it can replicate to the learner at once. Each tick the
    leader proposes PROMOTE for the first learner that holds every committed
    entry (Raft refuses it otherwise, and while another change is uncommitted).
    """

    book: MemberBook
    engine: Engine
    transport: Transport
    kick: Callable[[], None]
    timeout: float  # seconds a change may take to be applied here
    peer_http: dict[str, str] = field(default_factory=dict)  # what peers said (PeerInfo)
    pending: dict[str, MemberAddr] = field(default_factory=dict)

    # ---- following the log -------------------------------------------------------

    def on_conf_change(self, entry: Entry) -> None:
        cc = ConfChange.decode(entry.data)  # the engine validated it on the way in
        self.book.apply(cc)
        self.pending.pop(cc.node, None)
        if cc.node == self.book.node_id and cc.op == ConfChangeOp.REMOVE:
            logger.info("node %s: removed from the cluster at index %d", cc.node, entry.index)
        else:
            logger.info(
                "node %s: applied %s %s at index %d",
                self.book.node_id,
                cc.op.name.lower(),
                cc.node,
                entry.index,
            )
        self.sync_peers()

    def on_install(self) -> None:
        self.book.retain(self.engine.status().membership.members)
        self.sync_peers()

    def sync_peers(self) -> None:
        """Point the transport at every member we know an address for."""
        wanted = self.book.peers()
        members = self.engine.status().membership.members
        for nid, addr in self.pending.items():
            if nid in members and nid not in wanted:
                wanted[nid] = addr.peer
        if wanted != self.transport.peers:
            self.transport.update_peers(wanted)

    def tick(self) -> None:
        st = self.engine.status()
        if st.role != Role.LEADER:
            if self.pending:
                self.pending.clear()  # the next leader re-learns them from the log
                self.sync_peers()
            return
        for learner in sorted(st.membership.learners):
            if not self.engine.learner_caught_up(learner):
                continue
            try:
                self.engine.propose_membership(ConfChange(ConfChangeOp.PROMOTE, learner))
            except ConsensusError:
                return  # another change is in flight, or we stopped leading: next tick
            logger.info("node %s: learner %s caught up; promoting it", self.book.node_id, learner)
            self.kick()
            return
        if any(nid not in st.membership.members for nid in self.pending):
            # An addition that a leader change truncated away.
            self.pending = {n: a for n, a in self.pending.items() if n in st.membership.members}
            self.sync_peers()

    # ---- queries -----------------------------------------------------------------

    def http_of(self, node_id: str) -> str | None:
        known = self.book.addrs.get(node_id) or self.pending.get(node_id)
        if known is not None and known.http is not None:
            return known.http
        return self.peer_http.get(node_id)

    def listing(self) -> list[dict[str, Any]]:
        membership = self.engine.status().membership
        out: list[dict[str, Any]] = []
        for nid in sorted(membership.members):
            known = self.book.addrs.get(nid) or self.pending.get(nid)
            out.append(
                {
                    "id": nid,
                    "peer": None if known is None else format_addr(known.peer),
                    "http": self.http_of(nid),
                    "voter": nid in membership.voters,
                }
            )
        return out

    def applied_membership(self) -> Membership:
        """The configuration as of this node's applied index (so: committed)."""
        return self.engine.snapshot_meta(self.engine.status().applied_index)[1]

    # ---- changes (leader only) ---------------------------------------------------

    def _leader_only(self) -> None:
        st = self.engine.status()
        if st.role != Role.LEADER:
            lead = st.leader if st.leader != self.book.node_id else None
            raise NotLeaderHere(lead, None if lead is None else self.http_of(lead))

    async def add(self, node_id: str, peer: Addr, http: str) -> dict[str, Any]:
        """Add `node_id` as a learner; returns once that is committed and applied here."""
        self._leader_only()
        addr = MemberAddr(peer, http)
        known = self.book.addrs.get(node_id) or self.pending.get(node_id)
        members = self.engine.status().membership.members
        if node_id in members:
            if known is not None and known.peer != peer:
                raise MemberConflict(
                    f"{node_id} is already a member, at peer {format_addr(known.peer)}"
                )
        else:
            taken = [n for n, a in self.book.addrs.items() if a.peer == peer and n in members]
            if taken:
                raise MemberConflict(f"peer address {format_addr(peer)} belongs to {taken[0]}")
            self.pending[node_id] = addr
            self.sync_peers()
            cc = ConfChange(ConfChangeOp.ADD_LEARNER, node_id, encode_context(peer, http))
            await self._propose(cc)
        await self._until(lambda m: node_id in m.members, f"adding {node_id}")
        voter = node_id in self.engine.status().membership.voters
        return {"added": node_id, "peer": format_addr(peer), "http": http, "voter": voter}

    async def remove(self, node_id: str) -> dict[str, Any]:
        """Remove `node_id` (the leader too: it steps down once the removal commits)."""
        self._leader_only()
        if node_id not in self.engine.status().membership.members:
            if node_id in self.applied_membership().members:
                raise MemberConflict(f"the removal of {node_id} is still being committed")
            raise NotAMember(f"{node_id} is not a member")
        await self._propose(ConfChange(ConfChangeOp.REMOVE, node_id))
        await self._until(lambda m: node_id not in m.members, f"removing {node_id}")
        return {"removed": node_id}

    async def _propose(self, cc: ConfChange) -> None:
        """Propose `cc`, waiting (bounded) while another change is still uncommitted."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            self._leader_only()
            try:
                self.engine.propose_membership(cc)
            except ConfigChangeInProgress:
                if loop.time() >= deadline:
                    raise ChangeTimeout(
                        "another membership change did not commit in time; retry"
                    ) from None
                await asyncio.sleep(_POLL)
                continue
            except NotLeader:
                continue  # _leader_only() names whoever leads now
            except ConsensusError as exc:  # the engine's InvalidConfChange, ProposalDropped...
                raise MemberConflict(str(exc)) from None
            self.kick()
            return

    async def _until(self, done: Callable[[Membership], bool], what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while not done(self.applied_membership()):
            if loop.time() >= deadline:
                raise ChangeTimeout(
                    f"{what} was proposed but not seen committed within {self.timeout:g} s; "
                    "it may or may not take effect"
                )
            await asyncio.sleep(_POLL)
