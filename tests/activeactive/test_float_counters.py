"""Float counters (INCRBYFLOAT, HINCRBYFLOAT, ZINCRBY): one exact signed running total per
origin, Redis's arithmetic and printing, and no NaN ever, across replicas too."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.activeactive.sim import cluster, sync_all

from senate.activeactive.cell import Cell, CellDelta
from senate.activeactive.durability import OP_RECORD, SEGMENT_BYTES
from senate.activeactive.keys import STRING, ZSET
from senate.activeactive.keyspace import Keyspace, Op, decode_op, encode_op, pack
from senate.activeactive.service import ActiveActiveService
from senate.activeactive.values import (
    DOUBLE,
    LONG_DOUBLE,
    format_float,
    format_human,
    parse_float,
    parse_long_double,
    round_binary,
)
from senate.errors import DecodeError
from senate.storage.wal import WAL


def bulk(text: str) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(text), text.encode())


def same(replicas: list, *args: str) -> bytes:  # type: ignore[type-arg]
    answers = {r(*args) for r in replicas}
    assert len(answers) == 1, (args, answers)
    return answers.pop()


# -- the reviewer's repros ----------------------------------------------------------------
def test_infinite_increment_then_zadd_does_not_poison_the_member() -> None:
    a, b = rs = cluster(2)
    assert a("ZADD", "z", "1", "a") == b":1\r\n"
    assert a("ZINCRBY", "z", "inf", "a") == bulk("inf")
    assert a("ZADD", "z", "CH", "2", "a") == b":1\r\n"
    assert a("ZSCORE", "z", "a") == bulk("2")
    assert a("ZRANGE", "z", "0", "-1", "WITHSCORES") == b"*2\r\n" + bulk("a") + bulk("2")
    assert a("ZINCRBY", "z", "1", "a") == bulk("3")
    sync_all(rs)
    assert same(rs, "ZSCORE", "z", "a") == bulk("3")
    assert b("ZINCRBY", "z", "-inf", "a") == bulk("-inf")
    assert b("ZINCRBY", "z", "inf", "a") == b"-ERR resulting score is not a number (NaN)\r\n"
    sync_all(rs)
    assert same(rs, "ZSCORE", "z", "a") == bulk("-inf")


def test_small_increments_survive_a_large_total() -> None:
    (a,) = cluster(1)
    a("INCRBYFLOAT", "x", "1e17")
    a("INCRBYFLOAT", "x", "-1e17")
    assert a("INCRBYFLOAT", "x", "0.5") == bulk("0.5")
    assert a("GET", "x") == bulk("0.5")
    a("ZINCRBY", "z", "1e17", "m")
    a("ZINCRBY", "z", "-1e17", "m")
    assert a("ZINCRBY", "z", "0.5", "m") == bulk("0.5")
    a("ZADD", "y", "1e17", "m")  # a register under the counter: same answer
    a("ZINCRBY", "y", "-1e17", "m")
    assert a("ZINCRBY", "y", "0.5", "m") == bulk("0.5")
    a("SET", "s", "1e17")
    a("INCRBYFLOAT", "s", "-1e17")
    assert a("INCRBYFLOAT", "s", "0.5") == bulk("0.5")


def test_one_signed_total_per_origin_replaced_by_the_newer() -> None:
    (a,) = cluster(1)
    for by in ("1.5", "-2.25", "0.75"):
        a("INCRBYFLOAT", "x", by)
    cell = a.space.keys[b"x"].cells[STRING][b""]
    (seq, since, ints, floats, fseq) = cell.tot["n1"]
    assert (seq, since, ints, floats, fseq) == (3, 0, 0, Decimal(0), 3)
    older = CellDelta(tot={"n1": (2, 0, 0, Decimal("-0.75"), 2)})
    cell.apply(older)  # an older entry of the same origin changes nothing
    assert cell.tot["n1"][0] == 3


def test_concurrent_float_increments_add_up_exactly() -> None:
    a, b, c = rs = cluster()
    a("INCRBYFLOAT", "x", "0.1")
    b("INCRBYFLOAT", "x", "0.2")
    c("HINCRBYFLOAT", "h", "f", "0.1")
    a("HINCRBYFLOAT", "h", "f", "0.2")
    b("ZINCRBY", "z", "0.1", "m")
    c("ZINCRBY", "z", "0.2", "m")
    sync_all(rs)
    assert same(rs, "GET", "x") == bulk("0.3")
    assert same(rs, "HGET", "h", "f") == bulk("0.3")
    assert same(rs, "ZSCORE", "z", "m") == bulk("0.30000000000000004")


def test_a_reset_cancels_what_it_saw_and_keeps_a_concurrent_increment() -> None:
    a, b = rs = cluster(2)
    a("INCRBYFLOAT", "x", "10.5")
    sync_all(rs)
    a("SET", "x", "1")
    b("INCRBYFLOAT", "x", "0.25")
    sync_all(rs)
    assert same(rs, "GET", "x") == bulk("1.25")
    # after the reset was seen everywhere, b's next increment starts a fresh scale
    a("SET", "x", "2")
    sync_all(rs)
    assert b("INCRBYFLOAT", "x", "0.5") == bulk("2.5")
    sync_all(rs)
    assert same(rs, "GET", "x") == bulk("2.5")
    tot = b.space.keys[b"x"].cells[STRING][b""].tot["n2"]
    assert tot[1] > 0 and tot[3] == Decimal("0.5")  # since > 0: counted from zero again


def test_set_then_incrbyfloat_zero_reads_in_redis_form() -> None:
    (a,) = cluster(1)
    a("SET", "k", "3.0")
    assert a("GET", "k") == bulk("3.0")
    assert a("INCRBYFLOAT", "k", "0") == bulk("3")
    assert a("GET", "k") == bulk("3")
    assert a("INCR", "k") == b":4\r\n"
    a("SET", "k", "3.0")  # a new register write: the raw text again
    assert a("GET", "k") == bulk("3.0")


# -- Redis's parsing and printing ---------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (b"0.1", 0.1),
        (b"0x10", 16.0),
        (b"-0x1p-3", -0.125),
        (b"inf", float("inf")),
        (b"-Infinity", float("-inf")),
        (b"+.5", 0.5),
        (b"5.", 5.0),
        (b"1.5e-320", 1.5e-320),
        (b"0e-999999", 0.0),
    ],
)
def test_parse_float_reads_what_strtod_reads(raw: bytes, want: float) -> None:
    assert parse_float(raw) == want


@pytest.mark.parametrize(
    "raw",
    [b"", b" 1", b"1 ", b"nan", b"1e400", b"1e-400", b"0x", b"1e", b"1_0", b"0x1p", b"--1"],
)
def test_parse_float_refuses_what_redis_refuses(raw: bytes) -> None:
    assert parse_float(raw) is None


def test_long_double_range_and_rounding() -> None:
    assert parse_long_double(b"1e4000") is not None
    assert parse_long_double(b"1e5000") is None
    assert parse_long_double(b"1e-5000") is None
    assert parse_long_double(b"1" * 5120) is None  # Redis's buffer
    one_third = round_binary(Fraction(1, 3), LONG_DOUBLE)
    assert isinstance(one_third, Fraction) and one_third.denominator == 2**65
    assert round_binary(Fraction(1, 10), DOUBLE) == Fraction(0.1)
    assert round_binary(Fraction(2) ** 1024, DOUBLE) == float("inf")


@pytest.mark.parametrize(
    ("x", "want"),
    [
        (Fraction(3), b"3"),
        (Fraction(-1, 10**20), b"0"),
        (Fraction(5, 10), b"0.5"),
        (Decimal("-2.50"), b"-2.5"),
        (Decimal("100000000000000000.5"), b"100000000000000000.5"),
    ],
)
def test_human_format(x: Fraction | Decimal, want: bytes) -> None:
    assert format_human(x) == want


@pytest.mark.parametrize(
    ("x", "want"),
    [
        (0.1, b"0.10000000000000001"),
        (1e-20, b"9.9999999999999995e-21"),
        (1e300, b"1.0000000000000001e+300"),
        (3.0, b"3"),
        (-0.0, b"0"),
        (float("-inf"), b"-inf"),
        (123456789012345678.0, b"1.2345678901234568e+17"),
    ],
)
def test_score_format(x: float, want: bytes) -> None:
    assert format_float(x) == want


# -- no NaN, ever, under concurrency ------------------------------------------------------
REFUSALS = {
    b"-ERR resulting score is not a number (NaN)\r\n",
    b"-ERR increment would produce NaN or Infinity\r\n",
    b"-ERR value is not a valid float\r\n",  # INCRBYFLOAT on a SET "inf" or "-0.0"...
}
FLOATS = ["inf", "-inf", "1e308", "-1e308", "0.1", "-0.5", "3", "1e-300", "-0.0", "2.5e17"]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32))
def test_random_float_histories_never_produce_nan(seed: int) -> None:
    rng = random.Random(seed)
    rs = cluster(3)
    for _ in range(40):
        r = rng.choice(rs)
        x = rng.choice(FLOATS)
        op = rng.randrange(6)
        if op == 0:
            reply = r("ZINCRBY", "z", x, "m")
        elif op == 1:
            reply = r("ZADD", "z", rng.choice(["", "GT", "LT", "CH"]) or "CH", x, "m")
        elif op == 2:
            reply = r("INCRBYFLOAT", "f", x)
        elif op == 3:
            reply = r("SET", "f", x) if rng.random() < 0.5 else r("DEL", "f")
        elif op == 4:
            reply = r("ZREM", "z", "m")
        else:
            rng.shuffle(rs)
            sync_all(rs[:2])
            continue
        if reply.startswith(b"-"):
            assert reply in REFUSALS, reply
        else:
            assert b"nan" not in reply.lower(), reply
    sync_all(rs)
    score = same(rs, "ZSCORE", "z", "m")
    value = same(rs, "GET", "f")
    assert b"nan" not in score.lower() and b"nan" not in value.lower()


# -- wire format ------------------------------------------------------------------------------
def test_totals_round_trip_exactly_and_bad_ones_are_refused() -> None:
    cell = Cell()
    cell.add(("n1", 1), 5, 2**70, Decimal("0.30000000000000000000000001"))
    delta = cell.add(("n1", 2), 6, -(2**70) * 3, Decimal("-1e-4000"))
    again = CellDelta.from_plain(delta.to_plain())
    assert again.tot == delta.tot
    assert Cell.from_plain(cell.to_plain()).tot == cell.tot
    for bad in ("NaN", "Infinity", "1e999999", "abc"):
        plain = delta.to_plain()
        plain[3][4] = bad
        with pytest.raises(DecodeError):
            CellDelta.from_plain(plain)
    plain = delta.to_plain()
    plain[3][2] = 5  # since >= seq
    with pytest.raises(DecodeError):
        CellDelta.from_plain(plain)


def test_format_1_data_is_refused_with_a_clear_error() -> None:
    op = Op("n1", 1, {}, 7, [])
    plain = op.to_plain()
    plain[0] = 1
    with pytest.raises(DecodeError, match="format 1 was written by an older Senate"):
        decode_op(pack(plain))
    with pytest.raises(DecodeError, match="older Senate"):
        Keyspace.decode_state(pack([1, [], []]))
    assert decode_op(encode_op(op)).to_plain() == op.to_plain()


def test_zset_counter_cells_replicate_as_exact_decimals() -> None:
    a, b = rs = cluster(2)
    for _ in range(10):
        a("ZINCRBY", "z", "0.1", "m")
    sync_all(rs)
    assert same(rs, "ZSCORE", "z", "m") == bulk("0.99999999999999989")  # as Redis adds
    cell = b.space.keys[b"z"].cells[ZSET][b"m"]
    assert cell.tot["n1"][3] == Decimal.from_float(0.99999999999999989)


def test_a_replica_refuses_a_data_dir_of_format_1_with_a_clear_error(tmp_path: Path) -> None:
    """Old WAL records (grow-only counter totals) are not misread: recovery stops with a
    one-line reason (the CLI prints it and exits non-zero)."""
    wal, _records = WAL.open(tmp_path / "n1" / "wal", segment_bytes=SEGMENT_BYTES)
    old_op = [
        1,
        "n1",
        1,
        [],
        7,
        [b"k", [[0, b"", [[], [], ["n1", 1, 5], ["n1", 1, 0, 0.0, 0.0], []]], [], []]],
    ]
    wal.append([OP_RECORD + pack(old_op)])
    wal.sync()
    wal.close()
    service = ActiveActiveService(
        "n1", tmp_path / "n1", ["n1"], send=lambda m: None, rng=random.Random(0), clock_ms=lambda: 0
    )

    async def start() -> None:
        try:
            await service.start()
        finally:
            await service.log.close()

    with pytest.raises(DecodeError, match="op format 1 was written by an older Senate"):
        asyncio.run(start())
