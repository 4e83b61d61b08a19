"""A write-ahead log of opaque records in numbered segment files.

Record format: length (u32 little-endian) + CRC32 + payload, where the CRC is
zlib.crc32 over the four length bytes and then the payload (so a damaged length
is caught too). Length 0 is invalid, so a zero-filled region never parses as a
run of empty records.

Rules this file keeps:
- Group commit: `append(records)` writes a batch with one write() call and no
  fsync; `sync()` makes everything appended so far durable with one fdatasync.
  Nothing is durable, and nothing may be acknowledged, before `sync()` returns.
- A batch never straddles two segments. A new segment is cut before a batch when
  the active one has reached `segment_bytes`; the old segment is fsynced and the
  new file's creation is made durable (directory fsync) before any record goes
  into it. So only the last segment can ever hold a torn write.
- Recovery (`WAL.open`) scans every segment. In the last segment a bad record
  with nothing valid after it is a torn or corrupt tail: it is truncated and
  logged. A bad record followed by a valid one, a bad record in any earlier
  segment, or a missing segment number is corruption in the middle: StorageError
  naming the file and offset, and the node refuses to start.
- After a failed write or fsync the WAL refuses further use (the page cache may
  have dropped the data: "fsyncgate"); the process must restart and recover.

Segment files are named `<number:016d>.wal`, numbered from 1 without gaps
(compaction removes a prefix).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from senate.errors import StorageError
from senate.storage.fileutil import fsync_dir, remove_durably

log = logging.getLogger(__name__)

HEADER = struct.Struct("<II")  # length, crc
LENGTH = struct.Struct("<I")
DEFAULT_SEGMENT_BYTES = 64 << 20
DEFAULT_MAX_RECORD_BYTES = 64 << 20
SEGMENT_NAME = re.compile(r"^(\d{16})\.wal$")
# How many payload bytes the torn-tail check may hash per byte of tail (see below).
RESYNC_BUDGET_FACTOR = 4
RESYNC_BUDGET_BASE = 1 << 20


def record_crc(payload: bytes | memoryview, length: int) -> int:
    return zlib.crc32(payload, zlib.crc32(LENGTH.pack(length)))


def encode_record(payload: bytes) -> bytes:
    length = len(payload)
    return HEADER.pack(length, record_crc(payload, length)) + payload


def segment_name(number: int) -> str:
    return f"{number:016d}.wal"


@dataclass(slots=True)
class ScanResult:
    records: list[bytes]
    valid_end: int  # offset just past the last valid record
    tail_problem: str | None = None  # why the bytes after valid_end were rejected


def _problem_at(data: memoryview, offset: int, max_record_bytes: int) -> str | None:
    """None if a valid record starts at `offset`, else what is wrong with it."""
    left = len(data) - offset
    if left < HEADER.size:
        return f"incomplete record header ({left} bytes)"
    length, crc = HEADER.unpack_from(data, offset)
    if length == 0:
        return "record length 0"
    if length > max_record_bytes:
        return f"record length {length} over the {max_record_bytes} limit"
    if length > left - HEADER.size:
        return f"record of {length} bytes runs past the end of the file"
    start = offset + HEADER.size
    if record_crc(data[start : start + length], length) != crc:
        return "checksum mismatch"
    return None


def _valid_record_after(data: memoryview, bad: int, max_record_bytes: int, name: str) -> int | None:
    """Offset of a valid record starting after `bad`, or None.

    The length at `bad` may itself be damaged, so every later offset is tried.
    A candidate must have a plausible length whose end is the end of the file or
    is followed by another plausible length; only then is its CRC computed. The
    hashing is bounded: beyond the budget the tail cannot be judged cheaply and
    starting up would risk dropping acknowledged records, so we refuse.
    """
    size = len(data)
    budget = RESYNC_BUDGET_FACTOR * (size - bad) + RESYNC_BUDGET_BASE
    for offset in range(bad + 1, size - HEADER.size + 1):
        length, crc = HEADER.unpack_from(data, offset)
        if not 1 <= length <= min(max_record_bytes, size - offset - HEADER.size):
            continue
        end = offset + HEADER.size + length
        if size - end >= LENGTH.size:
            (after,) = LENGTH.unpack_from(data, end)
            if not 1 <= after <= max_record_bytes:
                continue
        budget -= length
        if budget < 0:
            raise StorageError(
                f"{name}: bad record at offset {bad} and the tail after it is too large "
                "to tell a torn write from corruption; refusing to start"
            )
        start = offset + HEADER.size
        if record_crc(data[start:end], length) == crc:
            return offset
    return None


def scan_segment(
    data: bytes,
    name: str,
    *,
    last: bool,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    repair: bool = False,
) -> ScanResult:
    """Parse one segment's bytes. Raises StorageError on corruption in the middle.

    For the last segment a bad tail is reported in the result (valid_end <
    len(data)) for the caller to truncate; for any other segment it is an error.
    With `repair` (an operator's explicit choice), a bad record in the last
    segment ends the log there even if valid records follow; they are dropped.
    """
    view = memoryview(data)
    records: list[bytes] = []
    offset = 0
    while offset < len(view):
        problem = _problem_at(view, offset, max_record_bytes)
        if problem is not None:
            if not last:
                raise StorageError(f"{name}: corrupt record at offset {offset}: {problem}")
            if repair:
                return ScanResult(records, offset, f"{problem} (repair: dropping what follows)")
            later = _valid_record_after(view, offset, max_record_bytes, name)
            if later is not None:
                raise StorageError(
                    f"{name}: corrupt record at offset {offset} ({problem}) "
                    f"followed by a valid record at offset {later}: the disk damaged acknowledged "
                    "data, so this node refuses to start. Remove the node from the cluster "
                    "(senate members remove), wipe its data dir and add it back (it catches up "
                    "from the others), or restore the dir from a backup (library users: "
                    "WAL.open(repair=True) drops everything from that offset)"
                )
            return ScanResult(records, offset, problem)
        (length,) = LENGTH.unpack_from(view, offset)
        start = offset + HEADER.size
        records.append(bytes(view[start : start + length]))
        offset = start + length
    return ScanResult(records, offset)


class WAL:
    """An open write-ahead log directory. Create with `WAL.open`."""

    def __init__(
        self, directory: Path, segments: list[int], segment_bytes: int, max_record_bytes: int
    ) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.max_record_bytes = max_record_bytes
        self._segments = segments
        path = self._path(segments[-1])
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._size = os.fstat(self._fd).st_size
        self._dirty = False
        self._broken: str | None = None

    @classmethod
    def open(
        cls,
        directory: Path | str,
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        repair: bool = False,
    ) -> tuple[WAL, list[tuple[int, bytes]]]:
        """Recover the log in `directory` (created if missing).

        Returns the WAL, ready to append, and every valid record with the number
        of the segment holding it, in order. A torn tail is truncated (and the
        truncation fsynced) before this returns. `repair`: see scan_segment;
        for an operator who accepts losing records to get a node to start (for
        example after a power loss wrote pages of an unsynced batch out of order).
        """
        if segment_bytes < 1 or max_record_bytes < 1:
            raise ValueError("segment_bytes and max_record_bytes must be positive")
        directory = Path(directory)
        if not directory.is_dir():
            directory.mkdir(parents=True)
            fsync_dir(directory.parent)
        numbers = sorted(
            int(m.group(1)) for p in directory.iterdir() if (m := SEGMENT_NAME.match(p.name))
        )
        for before, after in itertools.pairwise(numbers):
            if after != before + 1:
                raise StorageError(
                    f"{directory}: WAL segment {segment_name(before + 1)} is missing "
                    f"(found {segment_name(before)} then {segment_name(after)})"
                )
        records: list[tuple[int, bytes]] = []
        for i, number in enumerate(numbers):
            path = directory / segment_name(number)
            data = path.read_bytes()
            last = i == len(numbers) - 1
            result = scan_segment(
                data, str(path), last=last, max_record_bytes=max_record_bytes, repair=repair
            )
            if result.valid_end < len(data):
                log.warning(
                    "WAL %s: truncating a torn tail at offset %d (%d bytes dropped): %s",
                    path,
                    result.valid_end,
                    len(data) - result.valid_end,
                    result.tail_problem,
                )
                _truncate(path, result.valid_end)
            records.extend((number, payload) for payload in result.records)
        if not numbers:
            numbers = [1]
            _create_segment(directory / segment_name(1))
        return cls(directory, numbers, segment_bytes, max_record_bytes), records

    def _path(self, number: int) -> Path:
        return self.directory / segment_name(number)

    @property
    def segments(self) -> list[int]:
        """Segment numbers on disk, oldest first; the last is the active one."""
        return list(self._segments)

    @property
    def active(self) -> int:
        return self._segments[-1]

    def _check(self) -> None:
        if self._broken is not None:
            raise StorageError(f"WAL {self.directory} is unusable after: {self._broken}")

    def append(self, payloads: Sequence[bytes]) -> int:
        """Write `payloads` as records (not yet durable). Returns their segment number."""
        self._check()
        if not payloads:
            return self.active
        for payload in payloads:
            if not 1 <= len(payload) <= self.max_record_bytes:
                raise ValueError(
                    f"WAL record of {len(payload)} bytes (must be 1..{self.max_record_bytes})"
                )
        if self._size >= self.segment_bytes:
            self._cut()
        buf = b"".join(encode_record(p) for p in payloads)
        try:
            view = memoryview(buf)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            self._undo_partial_write(exc)
        self._size += len(buf)
        self._dirty = True
        return self.active

    def _undo_partial_write(self, exc: OSError) -> NoReturn:
        # A half-written batch followed by later batches would look like
        # corruption in the middle, so cut the file back to the last good size.
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:
            self._broken = f"write failed ({exc}) and could not be undone"
        raise StorageError(f"WAL write to {self._path(self.active)} failed: {exc}") from exc

    def sync(self) -> None:
        """Make every appended record durable (one fdatasync of the active segment)."""
        self._check()
        if not self._dirty:
            return
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            self._broken = f"fsync failed: {exc}"
            raise StorageError(f"WAL fsync of {self._path(self.active)} failed: {exc}") from exc
        self._dirty = False

    def _cut(self) -> None:
        """Seal the active segment (fsync) and start the next (durably created)."""
        try:
            os.fsync(self._fd)
            os.close(self._fd)
            number = self.active + 1
            _create_segment(self._path(number))
            self._fd = os.open(self._path(number), os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            self._broken = f"cutting a new segment failed: {exc}"
            raise StorageError(f"WAL {self.directory}: cannot cut a new segment: {exc}") from exc
        self._segments.append(number)
        self._size = 0
        self._dirty = False

    def remove_segments(self, numbers: Sequence[int]) -> None:
        """Durably delete sealed segments; they must be the oldest ones."""
        self._check()
        doomed = sorted(numbers)
        if not doomed:
            return
        if doomed != self._segments[: len(doomed)] or self.active in doomed:
            raise ValueError(f"can only remove a prefix of sealed segments, not {doomed}")
        remove_durably([self._path(n) for n in doomed], in_order=True)
        del self._segments[: len(doomed)]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _create_segment(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)


def _truncate(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
