"""When the active-active store snapshots its keyspace: once the WAL has grown by as
many bytes as the last snapshot holds (8 MiB at least), or at the record cap. Before,
only the record cap (200k) counted: a small, hot keyspace replayed 200k records on
restart, and a huge one was re-encoded every 200k records however small they were."""

from __future__ import annotations

import asyncio
from pathlib import Path

from senate.activeactive.durability import OP_RECORD, SNAPSHOT_MIN_GROWTH, DurableLog

MIB = 1 << 20


def _log(tmp_path: Path) -> DurableLog:
    log = DurableLog(tmp_path, on_durable=lambda pos, cut: None, cut_state=dict)
    log.recover()
    return log


def test_a_snapshot_is_due_after_the_minimum_growth(tmp_path: Path) -> None:
    log = _log(tmp_path)
    assert not log.snapshot_due(max_records=10**9)
    chunk = b"v" * (MIB - 1)  # + 1 byte of record kind: 1 MiB per record
    for _ in range(SNAPSHOT_MIN_GROWTH // MIB - 1):
        log.append(OP_RECORD, chunk)
    assert not log.snapshot_due(max_records=10**9)
    log.append(OP_RECORD, chunk)
    assert log.bytes_since_snapshot == SNAPSHOT_MIN_GROWTH
    assert log.snapshot_due(max_records=10**9)


def test_a_large_keyspace_waits_for_as_much_wal_as_it_holds(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.snapshot(b"k" * (3 * SNAPSHOT_MIN_GROWTH))
    assert log.snapshot_bytes == 3 * SNAPSHOT_MIN_GROWTH and log.bytes_since_snapshot == 0
    chunk = b"v" * (MIB - 1)
    for _ in range(3 * SNAPSHOT_MIN_GROWTH // MIB - 1):
        log.append(OP_RECORD, chunk)
    assert not log.snapshot_due(max_records=10**9)
    log.append(OP_RECORD, chunk)
    assert log.snapshot_due(max_records=10**9)


def test_the_record_cap_still_applies(tmp_path: Path) -> None:
    log = _log(tmp_path)
    for _ in range(3):
        log.append(OP_RECORD, b"x")
    assert not log.snapshot_due(max_records=4)
    log.append(OP_RECORD, b"x")
    assert log.snapshot_due(max_records=4)
    log.snapshot(b"state")
    assert not log.snapshot_due(max_records=4) and log.records_since_snapshot == 0


def test_a_restart_counts_what_it_replayed_as_growth(tmp_path: Path) -> None:
    async def session() -> None:
        log = _log(tmp_path)
        log.start()
        log.append(OP_RECORD, b"a" * 99)
        log.snapshot(b"s" * 1000)  # covers the record above
        pos = log.append(OP_RECORD, b"b" * 49)
        await log.when_durable(pos)
        await log.close()

    asyncio.run(session())
    again = _log(tmp_path)
    assert again.snapshot_bytes == 1000
    # Replay starts at the WAL segment the snapshot names, so both records (one
    # segment) are replayed and counted: growth measures what a restart replays.
    assert again.bytes_since_snapshot == 150 and again.records_since_snapshot == 2
