"""The WAL on real files: round trips, rollover, torn tails, corruption in the middle."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from senate.errors import StorageError
from senate.storage.wal import WAL, encode_record, scan_segment, segment_name


def payloads(n: int, size: int = 20) -> list[bytes]:
    return [f"record-{i:05d}-".encode() + bytes([i % 251]) * size for i in range(n)]


def write(path: Path, batches: list[list[bytes]], **kw: Any) -> None:
    wal, _ = WAL.open(path, **kw)
    for batch in batches:
        wal.append(batch)
        wal.sync()
    wal.close()


def reopen(path: Path, **kw: Any) -> list[bytes]:
    wal, records = WAL.open(path, **kw)
    wal.close()
    return [payload for _, payload in records]


def test_round_trip(tmp_path: Path) -> None:
    recs = payloads(10)
    write(tmp_path, [recs[:3], recs[3:4], recs[4:]])
    assert reopen(tmp_path) == recs
    assert sorted(p.name for p in tmp_path.iterdir()) == [segment_name(1)]


def test_append_without_sync_is_still_written_but_sync_is_what_counts(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.append([b"a"])
    wal.sync()
    wal.sync()  # nothing new: no-op
    wal.append([b"b"])
    wal.close()
    assert reopen(tmp_path) == [b"a", b"b"]


def test_rollover_keeps_batches_whole_and_order(tmp_path: Path) -> None:
    recs = payloads(200)
    batches = [recs[i : i + 7] for i in range(0, 200, 7)]
    write(tmp_path, batches, segment_bytes=300)
    wal, records = WAL.open(tmp_path, segment_bytes=300)
    assert [p for _, p in records] == recs
    assert len(wal.segments) > 10 and wal.segments == list(range(1, len(wal.segments) + 1))
    # A batch lives in one segment: records of one batch share a segment number.
    by_payload = dict((p, s) for s, p in records)
    for batch in batches:
        assert len({by_payload[p] for p in batch}) == 1
    wal.close()


def test_restart_many_times_across_rollover(tmp_path: Path) -> None:
    expected: list[bytes] = []
    for round_ in range(5):
        wal, records = WAL.open(tmp_path, segment_bytes=500)
        assert [p for _, p in records] == expected
        batch = [f"r{round_}-{i}".encode() * 3 for i in range(40)]
        for i in range(0, 40, 4):
            wal.append(batch[i : i + 4])
        wal.sync()
        expected += batch
        wal.close()
    assert reopen(tmp_path, segment_bytes=500) == expected


def last_segment(path: Path) -> Path:
    return sorted(path.glob("*.wal"))[-1]


@pytest.mark.parametrize("cut", [1, 4, 8, 9, 20])
def test_torn_tail_mid_record_recovers_the_prefix(
    tmp_path: Path, cut: int, caplog: pytest.LogCaptureFixture
) -> None:
    recs = payloads(5)
    write(tmp_path, [recs])
    seg = last_segment(tmp_path)
    full = seg.stat().st_size
    record_size = len(encode_record(recs[-1]))
    os.truncate(seg, full - record_size + cut)
    with caplog.at_level(logging.WARNING, logger="senate.storage.wal"):
        assert reopen(tmp_path) == recs[:4]
    assert "torn tail" in caplog.text and str(seg) in caplog.text
    assert seg.stat().st_size == full - record_size  # the tail was cut off durably
    # The log is usable again and later appends are found after a restart.
    write(tmp_path, [[b"after"]])
    assert reopen(tmp_path) == [*recs[:4], b"after"]


@pytest.mark.parametrize(
    "garbage",
    [b"\x00" * 100, b"\xff" * 3, random.Random(64).randbytes(64), b"\x05\x00\x00\x00junk"],
)
def test_garbage_appended_is_truncated(tmp_path: Path, garbage: bytes) -> None:
    recs = payloads(3)
    write(tmp_path, [recs])
    with last_segment(tmp_path).open("ab") as f:
        f.write(garbage)
    assert reopen(tmp_path) == recs
    assert reopen(tmp_path) == recs  # and again, now clean


def corrupt(path: Path, offset: int, value: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    data[offset] = data[offset] ^ 0xFF if value is None else value
    path.write_bytes(bytes(data))


def test_corrupt_payload_followed_by_valid_records_refuses(tmp_path: Path) -> None:
    recs = payloads(5)
    write(tmp_path, [recs])
    second = len(encode_record(recs[0]))
    corrupt(last_segment(tmp_path), second + 12)
    with pytest.raises(StorageError, match=rf"{segment_name(1)}.*offset {second}.*valid record"):
        reopen(tmp_path)


def test_corrupt_length_followed_by_valid_records_refuses(tmp_path: Path) -> None:
    recs = payloads(5)
    write(tmp_path, [recs])
    second = len(encode_record(recs[0]))
    corrupt(last_segment(tmp_path), second + 3, 0x7F)  # length now huge: "runs past the end"
    with pytest.raises(StorageError, match=f"offset {second}"):
        reopen(tmp_path)


def test_corrupt_last_record_is_a_corrupt_tail(tmp_path: Path) -> None:
    recs = payloads(5)
    write(tmp_path, [recs])
    seg = last_segment(tmp_path)
    corrupt(seg, seg.stat().st_size - 2)
    assert reopen(tmp_path) == recs[:4]


def test_corruption_in_an_earlier_segment_refuses(tmp_path: Path) -> None:
    write(tmp_path, [[p] for p in payloads(30)], segment_bytes=200)
    first = tmp_path / segment_name(1)
    size = first.stat().st_size
    corrupt(first, size - 3)  # even at the very end of a sealed segment
    with pytest.raises(StorageError, match=rf"{segment_name(1)}.*offset"):
        reopen(tmp_path, segment_bytes=200)


def test_garbage_after_a_sealed_segment_refuses(tmp_path: Path) -> None:
    write(tmp_path, [[p] for p in payloads(30)], segment_bytes=200)
    with (tmp_path / segment_name(2)).open("ab") as f:
        f.write(b"\x00\x00")
    with pytest.raises(StorageError, match=segment_name(2)):
        reopen(tmp_path, segment_bytes=200)


def test_missing_segment_refuses(tmp_path: Path) -> None:
    write(tmp_path, [[p] for p in payloads(30)], segment_bytes=200)
    (tmp_path / segment_name(2)).unlink()
    with pytest.raises(StorageError, match="missing"):
        reopen(tmp_path, segment_bytes=200)


def test_remove_segments_only_a_sealed_prefix(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_bytes=1)
    for p in payloads(20):
        wal.append([p])
    wal.sync()
    n = len(wal.segments)
    with pytest.raises(ValueError):
        wal.remove_segments([2])
    with pytest.raises(ValueError):
        wal.remove_segments(wal.segments)
    wal.remove_segments([1, 2])
    assert wal.segments[0] == 3 and len(wal.segments) == n - 2
    assert not (tmp_path / segment_name(1)).exists()
    wal.close()
    assert reopen(tmp_path, segment_bytes=1) == payloads(20)[2:]  # one record per segment


def test_bad_records_are_refused_on_append(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, max_record_bytes=10)
    with pytest.raises(ValueError):
        wal.append([b""])
    with pytest.raises(ValueError):
        wal.append([b"x" * 11])
    wal.close()


def test_huge_garbage_tail_is_judged_within_budget() -> None:
    good = b"".join(encode_record(p) for p in payloads(3))
    tail = random.Random(20).randbytes(1 << 20)
    result = scan_segment(good + tail, "seg", last=True)
    assert result.valid_end == len(good) and len(result.records) == 3


# -- property tests on the scanner --


@settings(max_examples=300)
@given(st.binary(max_size=300), st.booleans())
def test_random_bytes_never_crash_the_scanner(data: bytes, last: bool) -> None:
    try:
        result = scan_segment(data, "seg", last=last, max_record_bytes=1000)
    except StorageError:
        return
    assert b"".join(encode_record(r) for r in result.records) == data[: result.valid_end]
    assert last or result.valid_end == len(data)


@settings(max_examples=300)
@given(st.lists(st.binary(min_size=1, max_size=40), max_size=8), st.data())
def test_torn_writes_recover_exactly_the_whole_records(
    recs: list[bytes], data: st.DataObject
) -> None:
    encoded = [encode_record(r) for r in recs]
    full = b"".join(encoded)
    cut = data.draw(st.integers(0, len(full)))
    result = scan_segment(full[:cut], "seg", last=True)
    whole = 0
    while whole < len(encoded) and len(b"".join(encoded[: whole + 1])) <= cut:
        whole += 1
    assert result.records == recs[:whole]


@settings(max_examples=200)
@given(
    st.lists(st.binary(min_size=1, max_size=40), min_size=2, max_size=8),
    st.data(),
)
def test_flipped_byte_before_the_last_record_is_never_silently_dropped(
    recs: list[bytes], data: st.DataObject
) -> None:
    """Damage to any record but the last either raises or is caught as such."""
    full = bytearray(b"".join(encode_record(r) for r in recs))
    last_start = len(full) - len(encode_record(recs[-1]))
    pos = data.draw(st.integers(0, last_start - 1))
    full[pos] ^= data.draw(st.integers(1, 255))
    with pytest.raises(StorageError):
        scan_segment(bytes(full), "seg", last=True)


def test_repair_drops_everything_from_a_bad_record_in_the_last_segment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recs = payloads(5)
    write(tmp_path, [recs])
    second = len(encode_record(recs[0]))
    corrupt(last_segment(tmp_path), second + 12)
    with pytest.raises(StorageError, match="repair"):
        reopen(tmp_path)
    with caplog.at_level(logging.WARNING, logger="senate.storage.wal"):
        wal, records = WAL.open(tmp_path, repair=True)
    wal.close()
    assert [p for _, p in records] == recs[:1] and "repair" in caplog.text
    assert reopen(tmp_path) == recs[:1]  # the cut was made durable: no repair needed now


def test_failed_write_is_undone_so_later_batches_stay_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.append([b"first"])
    real_write = os.write

    def half_then_fail(fd: int, data: bytes | memoryview) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("senate.storage.wal.os.write", half_then_fail)
    with pytest.raises(StorageError, match="No space"):
        wal.append([b"second" * 10])
    monkeypatch.setattr("senate.storage.wal.os.write", real_write)
    wal.append([b"third"])
    wal.sync()
    wal.close()
    assert reopen(tmp_path) == [b"first", b"third"]


def test_failed_fsync_makes_the_wal_refuse_further_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.append([b"x"])

    def fail(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("senate.storage.wal.os.fdatasync", fail)
    with pytest.raises(StorageError, match="fsync"):
        wal.sync()
    monkeypatch.undo()
    with pytest.raises(StorageError, match="unusable"):
        wal.append([b"y"])
    with pytest.raises(StorageError, match="unusable"):
        wal.sync()
    wal.close()
