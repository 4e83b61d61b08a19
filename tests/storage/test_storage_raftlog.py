"""FileLogStore on real files (and MemoryLogStore beside it): what is saved comes back."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from senate.consensus.types import DurableState, Entry, EntryKind, HardState, Membership, Snapshot
from senate.errors import StorageError
from senate.storage import FileLogStore, MemoryLogStore
from senate.storage.wal import segment_name

MEMBERS = Membership(frozenset({"n1", "n2", "n3"}))


def ents(first: int, last: int, term: int = 1, size: int = 10) -> list[Entry]:
    return [
        Entry(i, term, EntryKind.NORMAL, bytes([i % 256]) * size) for i in range(first, last + 1)
    ]


def snap(index: int, term: int = 1, data: bytes = b"state") -> Snapshot:
    return Snapshot(index, term, MEMBERS, data)


def reopened(path: Path, **kw: Any) -> DurableState:
    store = FileLogStore(path, **kw)
    try:
        return store.load()
    finally:
        store.close()


def test_fresh_directory_is_empty(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path / "data")
    assert store.load() == DurableState()
    store.close()
    assert reopened(tmp_path / "data") == DurableState()


def test_round_trip(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path)
    hs = HardState(term=3, vote="n2", commit=4)
    entries = [*ents(1, 3), Entry(4, 3, EntryKind.NOOP), Entry(5, 3, EntryKind.CONF_CHANGE, b"c")]
    store.save(hs, entries, None, sync=True)
    expected = DurableState(hs, None, tuple(entries))
    assert store.load() == expected
    store.close()
    assert reopened(tmp_path) == expected


def test_hard_state_alone_and_latest_wins(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path)
    store.save(HardState(1, "n1", 0), [], None, sync=True)
    store.save(HardState(2, None, 0), [], None, sync=True)
    store.save(None, ents(1, 2, term=2), None, sync=True)
    store.close()
    assert reopened(tmp_path) == DurableState(HardState(2, None, 0), None, tuple(ents(1, 2, 2)))


def test_overwrite_a_suffix(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path)
    store.save(HardState(1), ents(1, 5, term=1), None, sync=True)
    store.save(HardState(2), ents(3, 4, term=2), None, sync=True)
    expected = (*ents(1, 2, 1), *ents(3, 4, 2))
    assert store.load().entries == expected
    store.save(None, ents(5, 6, term=2), None, sync=True)
    store.save(None, ents(1, 1, term=3), None, sync=True)  # overwrite everything
    store.close()
    assert reopened(tmp_path).entries == tuple(ents(1, 1, 3))


def test_gaps_and_bad_batches_are_refused(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path)
    store.save(None, ents(1, 3), None, sync=True)
    with pytest.raises(ValueError, match="start at 5"):
        store.save(None, ents(5, 6), None, sync=True)
    with pytest.raises(ValueError, match="contiguous"):
        store.save(None, [*ents(4, 4), *ents(6, 6)], None, sync=True)
    assert store.save_snapshot(snap(2))
    with pytest.raises(ValueError, match="start at 2"):
        store.save(None, ents(2, 4, term=2), None, sync=True)  # under the snapshot
    with pytest.raises(ValueError, match="not newer"):
        store.save(None, [], snap(2), sync=True)
    with pytest.raises(ValueError, match="compact"):
        store.compact(3)
    store.close()
    assert reopened(tmp_path).entries == tuple(ents(3, 3))


def test_installed_snapshot_replaces_the_log(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path)
    store.save(HardState(1), ents(1, 10), None, sync=True)
    installed = snap(20, term=2, data=b"leader state")
    store.save(HardState(2, None, 20), ents(21, 22, term=2), installed, sync=True)
    expected = DurableState(HardState(2, None, 20), installed, tuple(ents(21, 22, 2)))
    assert store.load() == expected
    store.close()
    assert reopened(tmp_path) == expected
    # A snapshot inside the existing log also discards the entries after it.
    store = FileLogStore(tmp_path)
    store.save(None, [], snap(21, term=2), sync=True)
    store.close()
    assert reopened(tmp_path).entries == ()


def test_snapshot_and_compaction_remove_covered_segments(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path, segment_bytes=400)
    store.save(HardState(1, "n1", 0), [], None, sync=True)
    for first in range(1, 200, 10):
        store.save(HardState(1, "n1", first - 1), ents(first, first + 9), None, sync=True)
    before = store.segments
    assert len(before) > 5
    assert store.save_snapshot(snap(145))
    assert not store.save_snapshot(snap(144))  # not newer: refused
    store.compact(145)
    after = store.segments
    assert after[0] > before[0] and after[-1] == before[-1]
    on_disk = sorted(p.name for p in (tmp_path / "wal").iterdir())
    assert on_disk == [segment_name(n) for n in after]
    expected = DurableState(HardState(1, "n1", 190), snap(145), tuple(ents(146, 200)))
    assert store.load() == expected
    store.close()
    assert reopened(tmp_path, segment_bytes=400) == expected
    assert len(list(tmp_path.glob("snap-*"))) == 1


def test_compaction_keeps_the_hard_state_of_deleted_segments(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path, segment_bytes=1)  # one save per segment
    store.save(HardState(7, "n3", 0), [], None, sync=True)
    store.save(None, ents(1, 5), None, sync=True)
    store.save(None, ents(6, 6), None, sync=True)
    store.save_snapshot(snap(5))
    store.compact(5)
    assert store.segments == [3]  # the hard state's segment went too
    store.close()
    state = reopened(tmp_path, segment_bytes=1)
    assert state == DurableState(HardState(7, "n3", 0), snap(5), tuple(ents(6, 6)))


def test_newer_snapshot_replaces_older_file(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path)
    store.save(None, ents(1, 30), None, sync=True)
    store.save_snapshot(snap(10, data=b"ten"))
    store.save_snapshot(snap(20, data=b"twenty"))
    assert not store.save_snapshot(snap(15))  # a late local snapshot loses to a newer one
    assert [p.name for p in tmp_path.glob("snap-*")] == ["snap-" + f"{20:020d}-{1:020d}.snap"]
    store.close()
    state = reopened(tmp_path)
    assert state.snapshot == snap(20, data=b"twenty") and state.entries == tuple(ents(21, 30))


def test_restart_many_times_across_rollover(tmp_path: Path) -> None:
    expected: list[Entry] = []
    for round_ in range(6):
        store = FileLogStore(tmp_path, segment_bytes=1000)
        assert store.load().entries == tuple(expected)
        for _ in range(25):
            batch = ents(len(expected) + 1, len(expected) + 3, term=round_ + 1)
            store.save(HardState(round_ + 1), batch, None, sync=False)
            expected += batch
        store.save(None, [], None, sync=True)
        store.close()
    state = reopened(tmp_path, segment_bytes=1000)
    assert state.entries == tuple(expected) and state.hard_state == HardState(6)
    assert len(list((tmp_path / "wal").iterdir())) > 5


def test_torn_last_save_loses_only_that_save(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path)
    store.save(HardState(1), ents(1, 5), None, sync=True)
    store.save(HardState(2, "n2"), ents(6, 9, term=2), None, sync=True)
    store.close()
    seg = tmp_path / "wal" / segment_name(1)
    os.truncate(seg, seg.stat().st_size - 7)
    assert reopened(tmp_path) == DurableState(HardState(1), None, tuple(ents(1, 5)))


def test_big_save_is_split_across_records(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path, max_record_bytes=2000)
    big = ents(1, 50, size=300)
    store.save(HardState(4, "n1", 0), big, None, sync=True)
    store.close()
    assert reopened(tmp_path, max_record_bytes=2000) == DurableState(
        HardState(4, "n1", 0), None, tuple(big)
    )


def test_corrupt_files_refuse_to_start(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path, segment_bytes=1)
    for i in range(1, 6):
        store.save(HardState(1), ents(i, i), None, sync=True)
    store.save_snapshot(snap(2))
    store.compact(2)
    store.close()
    (snap_file,) = tmp_path.glob("snap-*")
    data = snap_file.read_bytes()
    snap_file.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(StorageError, match=r"snap-.*checksum"):
        FileLogStore(tmp_path, segment_bytes=1)
    snap_file.write_bytes(data)
    hs_file = tmp_path / "hardstate"
    hs_file.write_bytes(b"SNHS\x00\x00\x00\x00junk")
    with pytest.raises(StorageError, match="hardstate"):
        FileLogStore(tmp_path, segment_bytes=1)


def test_missing_entries_refuse_to_start(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path, segment_bytes=1)
    for i in range(1, 6):
        store.save(None, ents(i, i), None, sync=True)
    store.close()
    (tmp_path / "wal" / segment_name(1)).unlink()  # entry 1 gone, no snapshot covers it
    with pytest.raises(StorageError, match="missing"):
        FileLogStore(tmp_path, segment_bytes=1)


def test_snapshot_marker_without_its_file_refuses(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path)
    store.save(None, [], snap(5), sync=True)
    store.close()
    for path in tmp_path.glob("snap-*"):
        path.unlink()
    with pytest.raises(StorageError, match="snapshot at index 5"):
        FileLogStore(tmp_path)


def test_leftover_temp_files_are_ignored_and_removed(tmp_path: Path) -> None:
    store = FileLogStore(tmp_path)
    store.save(HardState(1), ents(1, 2), None, sync=True)
    store.close()
    (tmp_path / "hardstate.tmp").write_bytes(b"half written")
    assert reopened(tmp_path).entries == tuple(ents(1, 2))
    assert not (tmp_path / "hardstate.tmp").exists()


# -- MemoryLogStore --


def test_memory_store_crash_loses_exactly_the_unsynced() -> None:
    store = MemoryLogStore()
    store.save(HardState(1, "n1"), ents(1, 3), None, sync=True)
    store.save(HardState(2, "n2"), ents(4, 5), None, sync=False)
    store.save(None, ents(6, 6), None, sync=False)
    assert store.load().entries == tuple(ents(1, 6)) and store.unsynced == 2
    store.crash(keep=1)
    assert store.load() == DurableState(HardState(2, "n2"), None, tuple(ents(1, 5)))
    store.save(None, ents(6, 7, term=3), None, sync=False)
    store.crash()
    assert store.load() == DurableState(HardState(2, "n2"), None, tuple(ents(1, 5)))


# -- FileLogStore and MemoryLogStore agree on random histories, across restarts --

Op = tuple[str, int, int, bool]
ops = st.lists(
    st.tuples(
        st.sampled_from(["save", "save", "save", "hs", "snapshot", "install", "reopen"]),
        st.integers(0, 12),  # how far back from the end the entries start
        st.integers(0, 4),  # how many entries, or a term bump
        st.booleans(),  # sync
    ),
    max_size=25,
)


def run_history(path: Path, history: list[Op]) -> None:
    file = FileLogStore(path, segment_bytes=300)
    memory = MemoryLogStore()
    term = 1
    for kind, back, count, sync in history:
        state = memory.load()
        base = state.snapshot.index if state.snapshot else 0
        last = state.entries[-1].index if state.entries else base
        if kind == "save":
            first = max(base + 1, last + 1 - back)
            term += 1 if back and count else 0
            batch = ents(first, first + count - 1, term)
            hs = HardState(term, None, 0) if sync else None
            file.save(hs, batch, None, sync)
            memory.save(hs, batch, None, sync)
        elif kind == "hs":
            hs = HardState(term, f"n{count}", min(back, last))
            file.save(hs, [], None, sync)
            memory.save(hs, [], None, sync)
        elif kind == "snapshot" and last > base:
            target = max(base + 1, last - back)
            s = snap(target, term, data=b"%d" % target)
            assert file.save_snapshot(s) == memory.save_snapshot(s)
            file.compact(target)
            memory.compact(target)
        elif kind == "install":
            term += 1
            s = snap(last + count + 1, term)
            batch = ents(s.index + 1, s.index + back % 3, term)
            file.save(HardState(term), batch, s, sync)
            memory.save(HardState(term), batch, s, sync)
        elif kind == "reopen":
            file.save(None, [], None, sync=True)  # a clean restart: make it all durable
            memory.save(None, [], None, sync=True)
            file.close()
            file = FileLogStore(path, segment_bytes=300)
        assert file.load() == memory.load()
    file.close()
    memory.save(None, [], None, sync=True)
    assert reopened(path, segment_bytes=300) == memory.load()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_file_and_memory_stores_agree(history: list[Op]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_history(Path(tmp), history)
