"""The interface every consensus engine (Raft, Multi-Paxos, ZAB) offers its drivers.

See `engine.py` for the Ready/Advance contract and `types.py` for the values that
cross it.
"""

from senate.consensus.engine import Engine, EngineFactory
from senate.consensus.types import (
    ConfChange,
    ConfChangeOp,
    DurableState,
    Entry,
    EntryKind,
    HardState,
    Membership,
    Message,
    ReadState,
    Ready,
    Role,
    Snapshot,
    Status,
)

__all__ = [
    "ConfChange",
    "ConfChangeOp",
    "DurableState",
    "Engine",
    "EngineFactory",
    "Entry",
    "EntryKind",
    "HardState",
    "Membership",
    "Message",
    "ReadState",
    "Ready",
    "Role",
    "Snapshot",
    "Status",
]
