"""Durable storage for consensus engines: WAL segments, snapshots, hard state.

`FileLogStore` is the embedded default (no external server); `MemoryLogStore`
has the same interface for tests and the simulator. Both satisfy `LogStore`.
"""

from senate.storage.memory import MemoryLogStore
from senate.storage.raftlog import FileLogStore, LogStore
from senate.storage.wal import WAL, scan_segment

__all__ = ["WAL", "FileLogStore", "LogStore", "MemoryLogStore", "scan_segment"]
