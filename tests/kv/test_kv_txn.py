"""Transactions: compares of every target, both branches, one revision, codec rules."""

from __future__ import annotations

import msgpack
import pytest
from kv_client import Client

from senate.errors import MalformedInput
from senate.kv import (
    Compare,
    CompareOp,
    CompareTarget,
    Delete,
    DeleteResult,
    Get,
    GetResult,
    KeyValue,
    KVStore,
    Put,
    PutResult,
    Request,
    Txn,
    TxnResult,
    decode_request,
    encode_request,
)
from senate.kv.txn import MAX_TXN_COMPARES, MAX_TXN_OPS, compare_holds

V, R, C, N = (
    CompareTarget.VALUE,
    CompareTarget.REVISION,
    CompareTarget.CREATE_REVISION,
    CompareTarget.VERSION,
)
EQ, NE, LT, GT = CompareOp.EQ, CompareOp.NE, CompareOp.LT, CompareOp.GT


def txn_result(r: object) -> TxnResult:
    assert isinstance(r, TxnResult), r
    return r


def setup() -> tuple[KVStore, Client]:
    s = KVStore()
    c = Client(s)
    c.do(Put("a", b"m"))  # rev 1
    c.do(Put("b", b"x"))  # rev 2
    c.do(Put("a", b"n"))  # rev 3: a = (n, create 1, mod 3, version 2)
    return s, c


@pytest.mark.parametrize(
    ("cmp", "holds"),
    [
        (Compare("a", V, EQ, b"n"), True),
        (Compare("a", V, EQ, b"m"), False),
        (Compare("a", V, NE, b"m"), True),
        (Compare("a", V, LT, b"o"), True),
        (Compare("a", V, LT, b"n"), False),
        (Compare("a", V, GT, b"m"), True),
        (Compare("a", V, GT, b"nn"), False),
        (Compare("a", R, EQ, 3), True),
        (Compare("a", R, EQ, 1), False),
        (Compare("a", R, LT, 4), True),
        (Compare("a", R, GT, 3), False),
        (Compare("a", C, EQ, 1), True),
        (Compare("a", C, NE, 1), False),
        (Compare("a", C, GT, 0), True),
        (Compare("a", N, EQ, 2), True),
        (Compare("a", N, LT, 2), False),
        (Compare("a", N, GT, 1), True),
        # A missing key: version, revision and create_revision are 0; value never matches.
        (Compare("zz", C, EQ, 0), True),
        (Compare("zz", N, EQ, 0), True),
        (Compare("zz", R, LT, 1), True),
        (Compare("zz", R, GT, 0), False),
        (Compare("zz", V, EQ, b""), False),
        (Compare("zz", V, NE, b""), False),
    ],
)
def test_each_compare_target_and_op(cmp: Compare, holds: bool) -> None:
    s, c = setup()
    r = txn_result(c.do(Txn((cmp,), (Put("ok", b"1"),), (Put("ko", b"1"),))))
    assert r.succeeded == holds and r.error is None
    assert (s.get("ok") is not None) == holds and (s.get("ko") is None) == holds
    assert compare_holds(s.get(cmp.key), cmp) == holds


def test_all_compares_must_hold() -> None:
    s, c = setup()
    both = (Compare("a", V, EQ, b"n"), Compare("b", N, EQ, 1))
    assert txn_result(c.do(Txn(both, (Get("a"),)))).succeeded
    one_false = (Compare("a", V, EQ, b"n"), Compare("b", N, EQ, 2))
    assert not txn_result(c.do(Txn(one_false, (Get("a"),)))).succeeded
    assert txn_result(c.do(Txn((), (Put("t", b""),)))).succeeded  # no compares: success
    assert s.get("t") is not None


def test_branch_writes_share_one_revision_and_results_follow_ops() -> None:
    s, c = setup()
    r = txn_result(
        c.do(
            Txn(
                (Compare("a", R, EQ, 3),),
                (Put("a", b"o"), Delete("b"), Delete("missing"), Put("new", b"1"), Get("a")),
                (Delete("a"),),
            )
        )
    )
    assert r.succeeded and r.revision == 4 == s.revision
    assert r.results == (
        PutResult(4, prev=KeyValue("a", b"n", 1, 3, 2)),
        DeleteResult(True, prev=KeyValue("b", b"x", 2, 2, 1)),
        DeleteResult(False),
        PutResult(4),
        GetResult(KeyValue("a", b"o", 1, 4, 3)),  # a get sees the branch's earlier writes
    )
    assert s.get("new") == KeyValue("new", b"1", 4, 4, 1) and s.get("b") is None
    events = s.watch_hub.events_since(4)
    assert [(e.kind.value, e.key, e.revision) for e in events] == [
        ("put", "a", 4),
        ("delete", "b", 4),
        ("put", "new", 4),
    ]


def test_failure_branch_runs_when_a_compare_fails() -> None:
    s, c = setup()
    r = txn_result(c.do(Txn((Compare("a", V, EQ, b"nope"),), (Delete("a"),), (Get("a"), Get("q")))))
    assert not r.succeeded and r.revision == 3 == s.revision  # reads only: no revision
    assert r.results == (GetResult(s.get("a")), GetResult(None))


def test_txn_that_changes_nothing_keeps_the_revision() -> None:
    s, c = setup()
    r = txn_result(c.do(Txn((), (Delete("missing"), Get("a")))))
    assert r.revision == 3 == s.revision and r.results[0] == DeleteResult(False)
    assert txn_result(c.do(Txn())).results == ()


def test_cas_lock_pattern_create_if_absent() -> None:
    s, c = setup()
    create = Txn((Compare("k", C, EQ, 0),), (Put("k", b"mine"),), (Get("k"),))
    assert txn_result(c.do(create)).succeeded
    second = txn_result(Client(s, "other").do(create))
    assert not second.succeeded and second.results == (GetResult(s.get("k")),)


def test_retried_txn_applies_once() -> None:
    s, c = setup()
    incr = Txn((Compare("a", V, EQ, b"n"),), (Put("a", b"o"),), (Put("lost", b"1"),))
    first = c.do(incr)
    assert first.succeeded and s.revision == 4
    # The retry would now take the failure branch; it must answer the first outcome.
    again = c.again(incr)
    assert again == first and s.get("lost") is None and s.revision == 4


def test_txn_round_trips_and_validates() -> None:
    t = Txn(
        (
            Compare("a", V, LT, b"\x00"),
            Compare("b", R, GT, 7),
            Compare("c", C, NE, 0),
            Compare("d", N, EQ, 2**63 - 1),
        ),
        (Put("a", b"1", lease=5), Delete("b"), Get("c"), Get("c")),
        (Get("z"),),
    )
    req = Request("c", 1, t)
    assert decode_request(encode_request(req)) == req
    bad = [
        Txn((Compare("a", V, EQ, 1),)),  # value compare needs bytes
        Txn((Compare("a", R, EQ, b"1"),)),  # revision compare needs an int
        Txn((Compare("a", R, EQ, -1),)),
        Txn((Compare("a", "mod", EQ, 1),)),  # type: ignore[arg-type]
        Txn((Compare("a", R, "<=", 1),)),  # type: ignore[arg-type]
        Txn((), (Put("a", b"1"), Put("a", b"2"))),  # one key written twice
        Txn((), (Put("a", b"1"), Delete("a"))),
        Txn((), (Put("a", b"1", prev_revision=0),)),  # compares, not prev_*
        Txn((), (), (Delete("a", prev_value=b"x"),)),
        Txn((), (Put("", b"1"),)),
        Txn((), tuple(Get("a") for _ in range(MAX_TXN_OPS + 1))),
        Txn(tuple(Compare("a", N, EQ, 0) for _ in range(MAX_TXN_COMPARES + 1))),
        Txn([Compare("a", N, EQ, 0)]),  # type: ignore[arg-type]
    ]
    for t in bad:
        with pytest.raises(MalformedInput):
            encode_request(Request("c", 1, t))
    assert len(encode_request(Request("c", 1, Txn((), tuple(Get("a") for _ in range(128))))))


def raw_txn(*fields: object) -> bytes:
    packed: bytes = msgpack.packb(["c", 1, [2, *fields]], use_bin_type=True)
    return packed


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (raw_txn([], []), "op code"),
        (raw_txn("x", [], []), "compares"),
        (raw_txn([["a", 4, 0, 1]], [], []), "target"),
        (raw_txn([["a", 1, 4, 1]], [], []), "op"),
        (raw_txn([["a", True, 0, 1]], [], []), "target"),
        (raw_txn([["a", 1, 0]], [], []), "compare"),
        (raw_txn([["a", 0, 0, 1]], [], []), "bytes"),
        (raw_txn([], [[5]], []), "txn op"),
        (raw_txn([], [[5, "a", "b"]], []), "txn op"),
        (raw_txn([], [[2, [], [], []]], []), "txn op"),  # no nested txns
        (raw_txn([], [[3, 1, 1]], []), "txn op"),  # no lease commands in a txn
        (raw_txn([], [[0, "a", b"", None, None, 0]], []), "lease"),
        (raw_txn([], [[0, "a", b"", None, None], [1, "a", None, None]], []), "twice"),
        (raw_txn([], [[5, "a"]] * 129, []), "limit"),
        (raw_txn([], [], "x"), "failure"),
    ],
)
def test_decode_rejects_bad_txns(data: bytes, needle: str) -> None:
    with pytest.raises(MalformedInput, match=needle):
        decode_request(data)


def test_malformed_txn_in_the_log_changes_nothing() -> None:
    s, _ = setup()
    before = s.snapshot()
    r = s.apply(s.applied_index + 1, raw_txn([], [[0, "a", b"", None, None]] * 2, []))
    assert r.error is not None and not r.succeeded
    after = KVStore.restore(s.snapshot())
    assert after.items() == KVStore.restore(before).items() and after.revision == 3


def test_txn_value_bytes_are_bounded() -> None:
    with pytest.raises(MalformedInput, match="limit"):
        encode_request(
            Request("c", 1, Txn((), tuple(Put(f"k{i}", b"x" * (1 << 20)) for i in range(9)))),
        )
    assert encode_request(Request("c", 1, Txn((), (Put("k", b"x" * (1 << 20)),))))
