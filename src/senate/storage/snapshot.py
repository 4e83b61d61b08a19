"""Snapshot files: the newest state machine snapshot, written atomically.

Rules this file keeps:
- `save` writes `snap-<index>-<term>.snap` with `write_atomic` (temp file,
  fsync, rename, directory fsync) and only then deletes older snapshot files
  (another directory fsync). When it returns, the snapshot is durable.
- A snapshot older than (or as old as) the newest one on disk is ignored: a
  local snapshot can race with one installed from the leader, and the newer wins.
- `load` returns the newest snapshot, fully checked (magic, CRC, fields). It was
  renamed into place whole, so any damage is corruption: StorageError.

Format: b"SNSP" + u32 CRC32 of the body + body, body = msgpack
[index, term, membership, data].
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import msgpack

from senate.consensus.types import Membership, Snapshot
from senate.errors import MalformedInput, StorageError
from senate.storage.fileutil import remove_durably, write_atomic

MAGIC = b"SNSP"
CRC = struct.Struct("<I")
NAME = re.compile(r"^snap-(\d{20})-(\d{20})\.snap$")


def snapshot_name(index: int, term: int) -> str:
    return f"snap-{index:020d}-{term:020d}.snap"


def encode_snapshot(snap: Snapshot) -> bytes:
    body: bytes = msgpack.packb(
        [snap.index, snap.term, snap.membership.to_obj(), snap.data], use_bin_type=True
    )
    return MAGIC + CRC.pack(zlib.crc32(body)) + body


def decode_snapshot(data: bytes, where: str) -> Snapshot:
    head = len(MAGIC) + CRC.size
    if len(data) < head or data[: len(MAGIC)] != MAGIC:
        raise StorageError(f"{where}: not a snapshot file")
    (crc,) = CRC.unpack_from(data, len(MAGIC))
    body = data[head:]
    if zlib.crc32(body) != crc:
        raise StorageError(f"{where}: checksum mismatch")
    try:
        obj = msgpack.unpackb(body, raw=False)
        index, term, membership, payload = obj
        members = Membership.from_obj(membership)
    except (ValueError, TypeError, MalformedInput, msgpack.UnpackException) as exc:
        raise StorageError(f"{where}: undecodable snapshot: {exc}") from exc
    if type(index) is not int or type(term) is not int or index < 0 or term < 0:
        raise StorageError(f"{where}: snapshot index and term must be integers >= 0")
    if not isinstance(payload, bytes):
        raise StorageError(f"{where}: snapshot data must be bytes")
    return Snapshot(index, term, members, payload)


class SnapshotStore:
    """The snapshot files in one directory (shared with other storage files)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _files(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.iterdir():
            match = NAME.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def newest_index(self) -> int | None:
        files = self._files()
        return files[-1][0] if files else None

    def save(self, snap: Snapshot) -> bool:
        """Durably store `snap` and drop older ones. False if it was not newer."""
        newest = self.newest_index()
        if newest is not None and snap.index <= newest:
            return False
        write_atomic(self.directory / snapshot_name(snap.index, snap.term), encode_snapshot(snap))
        remove_durably([path for index, path in self._files() if index < snap.index])
        return True

    def load(self) -> Snapshot | None:
        """The newest snapshot, or None. Older leftovers (from a crash) are removed."""
        files = self._files()
        if not files:
            return None
        index, path = files[-1]
        snap = decode_snapshot(path.read_bytes(), str(path))
        if snap.index != index:
            raise StorageError(f"{path}: holds index {snap.index}, not {index} as named")
        remove_durably([p for _, p in files[:-1]])
        return snap
