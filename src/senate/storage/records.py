"""The payload of a log-store WAL record: one batch of a consensus Ready.

Rules this file keeps:
- One batch = what one `save` call persists: an optional snapshot marker (the
  log was replaced by an installed snapshot), an optional hard state, and log
  entries, in that order of effect. A batch is one WAL record when it fits, so a
  crash keeps all of it or none of it; a huge batch is split into several records
  with the marker and hard state in the first (see raftlog.py).
- The WAL's CRC already vouches for the bytes, so a payload that does not decode
  is not a torn write but a bug or a foreign file: StorageError.

Layout (msgpack): [1, marker, hard_state, entries] with marker = nil or
[index, term], hard_state = nil or [term, vote, commit], entries =
[[index, term, kind, data], ...].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

from senate.consensus.types import Entry, EntryKind, HardState
from senate.errors import StorageError
from senate.storage.hardstate import decode_hard_state, encode_hard_state

FORMAT = 1
_KINDS = {int(kind): kind for kind in EntryKind}
ENTRY_OVERHEAD = 24  # rough msgpack bytes per entry besides its data, for splitting


@dataclass(slots=True)
class Batch:
    marker: tuple[int, int] | None = None  # (index, term) of an installed snapshot
    hard_state: HardState | None = None
    entries: list[Entry] = field(default_factory=list)


def encode_batch(batch: Batch) -> bytes:
    marker = None if batch.marker is None else list(batch.marker)
    hs = None if batch.hard_state is None else encode_hard_state(batch.hard_state)
    entries = [[e.index, e.term, int(e.kind), e.data] for e in batch.entries]
    packed: bytes = msgpack.packb([FORMAT, marker, hs, entries], use_bin_type=True)
    return packed


def _entry(obj: Any, where: str) -> Entry:
    if not isinstance(obj, list) or len(obj) != 4:
        raise StorageError(f"{where}: entry must be [index, term, kind, data]")
    index, term, kind, data = obj
    if type(index) is not int or type(term) is not int or index < 1 or term < 0:
        raise StorageError(f"{where}: entry index must be >= 1 and term >= 0")
    if type(kind) is not int or kind not in _KINDS:
        raise StorageError(f"{where}: unknown entry kind {kind!r}")
    if not isinstance(data, bytes):
        raise StorageError(f"{where}: entry data must be bytes")
    return Entry(index, term, _KINDS[kind], data)


def decode_batch(payload: bytes, where: str) -> Batch:
    try:
        obj = msgpack.unpackb(payload, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise StorageError(f"{where}: undecodable WAL record: {exc}") from exc
    if not isinstance(obj, list) or len(obj) != 4 or obj[0] != FORMAT:
        raise StorageError(f"{where}: not a log batch of format {FORMAT}")
    _, raw_marker, raw_hs, raw_entries = obj
    marker = None
    if raw_marker is not None:
        if (
            not isinstance(raw_marker, list)
            or len(raw_marker) != 2
            or not all(type(x) is int and x >= 0 for x in raw_marker)
        ):
            raise StorageError(f"{where}: bad snapshot marker {raw_marker!r}")
        marker = (raw_marker[0], raw_marker[1])
    hs = None if raw_hs is None else decode_hard_state(raw_hs, where)
    if not isinstance(raw_entries, list):
        raise StorageError(f"{where}: entries must be an array")
    return Batch(marker, hs, [_entry(e, where) for e in raw_entries])


def split_batch(batch: Batch, max_bytes: int) -> list[Batch]:
    """Split so each encoded part stays near `max_bytes`; marker and hard state go first."""
    parts = [Batch(batch.marker, batch.hard_state, [])]
    size = 64
    for entry in batch.entries:
        cost = len(entry.data) + ENTRY_OVERHEAD
        if parts[-1].entries and size + cost > max_bytes:
            parts.append(Batch())
            size = 64
        parts[-1].entries.append(entry)
        size += cost
    return parts
