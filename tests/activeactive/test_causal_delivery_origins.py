"""Replication (sans-I/O), two liveness and safety properties:
- causal delivery costs O(ops x deps): a long chain alternating between two origins,
  delivered in the worst order, is not re-scanned once per applied op (that went
  quadratic and stalled a restarted replica's event loop for minutes);
- a replica that sees a peer know ops of its own origin past its own count (its data
  dir was restored from an older copy) says so, so the service takes a fresh origin."""

from __future__ import annotations

import pytest
from tests.activeactive.sim import cluster

from senate.activeactive.keyspace import Keyspace, Op


def alternating_chain(length: int) -> tuple[list[bytes], list[bytes]]:
    """n2 and n3 take turns incrementing, each seeing the other's last op first: every
    op depends on the previous op of the other origin."""
    _n1, n2, n3 = cluster()
    for _ in range(length):
        n2("INCR", "k")
        n3.receive(n2.ops[-1:])
        n3("INCR", "k")
        n2.receive(n3.ops[-1:])
    return n2.ops, n3.ops


def test_a_long_alternating_chain_drains_in_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    length = 1500
    ops2, ops3 = alternating_chain(length)
    examined = 0
    is_applied, deliverable = Keyspace.is_applied, Keyspace.deliverable

    def counting_is_applied(self: Keyspace, op: Op) -> bool:
        nonlocal examined
        examined += 1
        return is_applied(self, op)

    def counting_deliverable(self: Keyspace, op: Op) -> bool:
        nonlocal examined
        examined += 1
        return deliverable(self, op)

    monkeypatch.setattr(Keyspace, "is_applied", counting_is_applied)
    monkeypatch.setattr(Keyspace, "deliverable", counting_deliverable)
    n1 = cluster()[0]
    n1.receive(ops3)  # all of n3's first: none can apply (each needs an op of n2)
    assert len(n1.rep.waiting) == length
    n1.receive(ops2)  # now the chain unwinds, one op of each origin at a time
    assert n1.space.vv == {"n2": length, "n3": length}
    assert not n1.rep.waiting
    assert n1("GET", "k") == b"$4\r\n%d\r\n" % (2 * length)
    # each op looked at a few times (on arrival, and once per dependency it waited on),
    # not once per op applied before it (about 2 * length**2 = 4.5 million)
    assert examined <= 10 * 2 * length, examined


def test_shuffled_delivery_still_applies_everything_in_causal_order() -> None:
    ops2, ops3 = alternating_chain(40)
    n1 = cluster()[0]
    batches = [ops3[20:], ops2[30:], ops3[:5], ops2[5:30], ops3[5:20], ops2[:5]]
    for batch in batches:
        n1.receive(batch)
    assert n1.space.vv == {"n2": 40, "n3": 40}
    assert not n1.rep.waiting
    assert n1("GET", "k") == b"$2\r\n80\r\n"


def test_a_peer_ahead_of_our_own_origin_is_reported() -> None:
    a, b, _c = cluster()
    for _ in range(5):
        a("INCR", "k")
    b.receive(a.ops)
    # a's data dir restored from an older copy: its state (and origin) without the ops
    stale = cluster()[0]
    assert stale.space.node == a.space.node == "n1"
    assert stale.rep.origin_ahead is None
    stale.rep.receive_sync("n2", dict(b.space.vv), 1.0)
    assert stale.rep.origin_ahead == 5
    # ops of our origin we never made (a peer resends them) say the same
    fresh = cluster()[0]
    fresh.receive(a.ops[:3])
    assert fresh.rep.origin_ahead == 3
    assert fresh.space.vv == {"n1": 3}  # they are real ops of the past: applied
    # a peer that is behind, or equal, is normal
    a.rep.receive_sync("n2", {"n1": 5}, 1.0)
    a.rep.receive_sync("n3", {"n1": 2}, 1.0)
    assert a.rep.origin_ahead is None


def test_resends_to_a_stalled_peer_back_off_until_it_moves() -> None:
    a, _b, _c = cluster()
    for _ in range(4):
        a("INCR", "k")
    a.rep.durable_vv = dict(a.space.vv)

    def resent(vv: dict[str, int], now: float) -> int:
        return sum(len(m.body) for m in a.rep.receive_sync("n2", vv, now))

    stalled = {"n1": 1}
    times = [1.0, 1.05, 1.11, 1.2, 1.31, 1.5, 1.71, 2.0, 2.1]
    got = [resent(stalled, t) for t in times]
    # at once, then after 0.1, 0.2, 0.4 s...: not one batch of duplicates per sync
    assert got == [3, 0, 3, 0, 3, 0, 3, 0, 0], got
    assert resent({"n1": 2}, 2.2) == 0  # progress: pushes are arriving
    assert resent({"n1": 2}, 2.25) == 2  # stalled again: at once, the back-off was reset
    assert resent({"n1": 2}, 2.3) == 0
