"""Which consensus engine a real node runs: Raft, Multi-Paxos or ZAB, by protocol name.

Rules this file keeps:
- One table, `ENGINES`, says for each protocol how to build its engine from the
  node's settings, which transport kind its messages travel under and how to
  decode them; the node (node.py) knows no engine by name.
- Every node registers the decoders of *every* engine, so a message from a peer
  that runs another protocol (a misconfigured cluster) decodes and is dropped
  with a warning instead of tearing down the link the other traffic shares.
- The protocol a data dir was created with is kept in DATA_DIR/PROTOCOL (one
  line, written with fsync of file and directory before the first WAL record).
  A data dir written by one engine is never read by another: the WAL records
  share one format (consensus/types.py), but what the hard state's term and vote
  mean differs per engine (a Raft vote, a Paxos accepted ballot, a ZAB epoch).
  A data dir a node ran in before this file existed (it has a members.json)
  is Raft's.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from senate.consensus.engine import Engine
from senate.consensus.types import DurableState, Membership
from senate.errors import StorageError, UsageError
from senate.runtime.config import PROTOCOLS  # the flags' list; ENGINES has one per name
from senate.runtime.membership import BOOK_FILE
from senate.wire.codec import Codec, Decoder

PROTOCOL_FILE: Final = "PROTOCOL"
LEGACY_PROTOCOL: Final = "raft"  # what a data dir without PROTOCOL but with a log holds


@dataclass(slots=True, frozen=True)
class EngineSettings:
    """The engine knobs a node's flags set (the rest keep each engine's defaults)."""

    election_ticks: int


Build = Callable[[str, Membership, DurableState, random.Random, EngineSettings], Engine]


@dataclass(slots=True, frozen=True)
class EngineKind:
    """How the runtime builds and talks to one protocol's engine."""

    protocol: str
    wire_kind: str  # transport envelope kind of its messages
    message_type: type  # what its step() accepts
    decode: Decoder
    build: Build


def _raft() -> EngineKind:
    from senate.raft import Raft, RaftConfig, RaftMessage, message_from_wire

    def build(
        nid: str, m: Membership, d: DurableState, rng: random.Random, s: EngineSettings
    ) -> Engine:
        return Raft(nid, m, d, rng, RaftConfig(election_ticks=s.election_ticks))

    return EngineKind("raft", "raft", RaftMessage, message_from_wire, build)


def _paxos() -> EngineKind:
    from senate.paxos.config import PaxosConfig
    from senate.paxos.messages import PaxosMessage, message_from_wire
    from senate.paxos.node import MultiPaxos

    def build(
        nid: str, m: Membership, d: DurableState, rng: random.Random, s: EngineSettings
    ) -> Engine:
        return MultiPaxos(nid, m, d, rng, PaxosConfig(election_ticks=s.election_ticks))

    return EngineKind("multipaxos", "paxos", PaxosMessage, message_from_wire, build)


def _zab() -> EngineKind:
    from senate.zab.config import ZabConfig
    from senate.zab.messages import ZabMessage, message_from_wire
    from senate.zab.node import Zab

    def build(
        nid: str, m: Membership, d: DurableState, rng: random.Random, s: EngineSettings
    ) -> Engine:
        # ZAB pings every 2 ticks by default; keep that below the election timeout.
        heartbeat = min(ZabConfig().heartbeat_ticks, s.election_ticks - 1)
        cfg = ZabConfig(election_ticks=s.election_ticks, heartbeat_ticks=heartbeat)
        return Zab(nid, m, d, rng, cfg)

    return EngineKind("zab", "zab", ZabMessage, message_from_wire, build)


ENGINES: Final[dict[str, Callable[[], EngineKind]]] = {
    "raft": _raft,
    "multipaxos": _paxos,
    "zab": _zab,
}


def engine_kind(protocol: str) -> EngineKind:
    """The EngineKind of `protocol`; UsageError for an unknown name."""
    make = ENGINES.get(protocol)
    if make is None:
        raise UsageError(f"unknown protocol {protocol!r} (choose from {', '.join(PROTOCOLS)})")
    return make()


def register_engines(codec: Codec) -> dict[type, str]:
    """Register every engine's decoder on `codec`; returns message type -> protocol."""
    types: dict[type, str] = {}
    for protocol in PROTOCOLS:
        kind = engine_kind(protocol)
        codec.register(kind.wire_kind, kind.decode)
        types[kind.message_type] = protocol
    return types


def read_protocol(data_dir: Path) -> str | None:
    """The protocol recorded in `data_dir` (None if none is); StorageError if unreadable."""
    path = data_dir / PROTOCOL_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from None
    protocol = text.strip()
    if protocol not in ENGINES:
        raise StorageError(f"{path} names an unknown protocol {protocol[:64]!r}")
    return protocol


def has_run(data_dir: Path) -> bool:
    """Has a node run in `data_dir`? (Every start saves its member book there first.)"""
    return (data_dir / BOOK_FILE).exists()


def check_protocol(data_dir: Path, protocol: str) -> str | None:
    """The protocol `data_dir` was written by, None if it holds no log; UsageError if it is
    not `protocol` (restarting a node with another engine would misread its log)."""
    recorded = read_protocol(data_dir)
    if recorded is None and has_run(data_dir):
        recorded = LEGACY_PROTOCOL
    if recorded is not None and recorded != protocol:
        raise UsageError(
            f"--protocol {protocol}: data dir {data_dir} holds a {recorded} log; "
            f"run it with --protocol {recorded} or use a fresh --data-dir"
        )
    return recorded


def claim_protocol(data_dir: Path, protocol: str) -> None:
    """Check `data_dir` against `protocol` (check_protocol) and record it there, durably."""
    check_protocol(data_dir, protocol)
    path = data_dir / PROTOCOL_FILE
    if path.exists():
        return
    tmp = data_dir / (PROTOCOL_FILE + ".tmp")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(protocol + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(data_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise StorageError(f"cannot save {path}: {exc.strerror or exc}") from None
