"""The hard state file: (term, vote, commit) replaced atomically.

Rules this file keeps:
- `save` goes through `write_atomic`: temp file, fsync, rename, directory fsync.
  When it returns the hard state is durable; a crash leaves the old or the new.
- `load` trusts nothing: magic, CRC and every field are checked; a damaged file
  is a StorageError (it was renamed into place whole, so damage is not a torn
  write but real corruption).

The FileLogStore keeps its running hard state in the WAL (one fsync per Ready,
shared with the entries) and writes this file as a checkpoint just before it
deletes old WAL segments, so the hard state they held is never lost.

Format: b"SNHS" + u32 CRC32 of the body + body, body = msgpack [term, vote, commit].
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import msgpack

from senate.consensus.types import HardState
from senate.errors import StorageError
from senate.storage.fileutil import write_atomic

MAGIC = b"SNHS"
CRC = struct.Struct("<I")
FILE_NAME = "hardstate"


def encode_hard_state(hs: HardState) -> list[object]:
    return [hs.term, hs.vote, hs.commit]


def decode_hard_state(obj: object, where: str) -> HardState:
    """Check a decoded [term, vote, commit]; StorageError naming `where` if bad."""
    if not isinstance(obj, list) or len(obj) != 3:
        raise StorageError(f"{where}: hard state must be [term, vote, commit]")
    term, vote, commit = obj
    if type(term) is not int or type(commit) is not int or term < 0 or commit < 0:
        raise StorageError(f"{where}: hard state term and commit must be integers >= 0")
    if vote is not None and not isinstance(vote, str):
        raise StorageError(f"{where}: hard state vote must be a node id or nil")
    return HardState(term, vote, commit)


class HardStateFile:
    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME

    def save(self, hs: HardState) -> None:
        """Durably replace the file (fsyncs the temp file and the directory)."""
        body: bytes = msgpack.packb(encode_hard_state(hs), use_bin_type=True)
        write_atomic(self.path, MAGIC + CRC.pack(zlib.crc32(body)) + body)

    def load(self) -> HardState | None:
        """The saved hard state, or None if there is no file."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        head = len(MAGIC) + CRC.size
        if len(data) < head or data[: len(MAGIC)] != MAGIC:
            raise StorageError(f"{self.path}: not a hard state file")
        (crc,) = CRC.unpack_from(data, len(MAGIC))
        body = data[head:]
        if zlib.crc32(body) != crc:
            raise StorageError(f"{self.path}: checksum mismatch")
        try:
            obj = msgpack.unpackb(body, raw=False)
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            raise StorageError(f"{self.path}: undecodable hard state: {exc}") from exc
        return decode_hard_state(obj, str(self.path))
