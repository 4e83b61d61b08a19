"""The simulated disk: only fsync makes writes durable; crashes can tear."""

from __future__ import annotations

import random

from senate.consensus.types import Entry, HardState, Membership, Snapshot
from senate.sim.disk import Disk

MEMBERS = Membership(frozenset({"n1", "n2", "n3"}))


def _entries(lo: int, hi: int, term: int = 1) -> list[Entry]:
    return [Entry(i, term, data=f"{i}".encode()) for i in range(lo, hi + 1)]


def test_crash_loses_everything_not_fsynced() -> None:
    d = Disk()
    d.write(None, _entries(1, 3), HardState(1, "n1", 0))
    d.fsync()
    d.write(None, _entries(4, 6), HardState(2, "n2", 3))
    assert d.live.last_index == 6
    lost = d.crash(random.Random(1), torn_prob=0.0)
    assert lost == 4
    assert d.live.last_index == 3 and d.durable.last_index == 3
    assert d.durable.hard_state == HardState(1, "n1", 0)
    state = d.durable.durable_state()
    assert [e.index for e in state.entries] == [1, 2, 3]


def test_torn_crash_keeps_a_prefix_in_write_order() -> None:
    survivors: set[int] = set()
    for seed in range(60):
        d = Disk()
        d.write(None, _entries(1, 2), HardState(1, "n1", 0))
        d.fsync()
        d.write(None, _entries(3, 8, term=2), HardState(2, "n2", 0))
        d.crash(random.Random(seed), torn_prob=1.0)
        last = d.durable.last_index
        survivors.add(last)
        # Never a later entry without the earlier ones, never the hard state early.
        assert [e.index for e in d.durable.log] == list(range(1, last + 1))
        if d.durable.hard_state.term == 2:
            assert last == 8
    assert min(survivors) == 2 and max(survivors) == 8 and len(survivors) > 3


def test_writing_entries_truncates_the_conflicting_suffix() -> None:
    d = Disk()
    d.write(None, _entries(1, 5), None)
    d.write(None, _entries(3, 3, term=2), None)
    assert [(e.index, e.term) for e in d.live.log] == [(1, 1), (2, 1), (3, 2)]
    d.fsync()
    assert d.durable.last_index == 3


def test_saved_snapshot_is_durable_and_compacts() -> None:
    d = Disk()
    d.write(None, _entries(1, 6), None)
    d.fsync()
    d.save_snapshot(Snapshot(4, 1, MEMBERS, b"state"))
    d.crash(random.Random(1), torn_prob=0.0)
    state = d.durable.durable_state()
    assert state.snapshot is not None and state.snapshot.index == 4
    assert [e.index for e in state.entries] == [5, 6]
    assert d.durable.term_at(4) == 1


def test_installed_snapshot_replaces_a_log_that_does_not_continue_it() -> None:
    d = Disk()
    d.write(None, _entries(1, 6), None)
    d.write(Snapshot(8, 3, MEMBERS, b"s"), _entries(9, 9, term=3), HardState(3, None, 9))
    d.fsync()
    assert d.durable.first_index == 9
    assert [e.index for e in d.durable.log] == [9]
