"""Compaction at the causally stable cut, while replicas keep editing concurrently.

Two worlds of three replicas run the same session: the same edits at the same visible
positions, the same syncs. In one, replicas acknowledge what they applied (the acks
travel late and out of order) and every replica compacts whenever its stable cut
moves; the other never compacts. The compacting world must show the same text at
every replica after every step, converge, and hold less: tombstones become
placeholders without origins, stable delete ops leave the log.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from senate.clocks import VersionVector
from senate.crdt.text import Text

REPLICAS = ["a", "b", "c"]


def order(doc: Text) -> list[tuple[str, int, int]]:
    """Every id, tombstones and placeholders included, in document order, as
    (replica, start, end) ranges: a placeholder must keep its ids where they were."""
    out: list[tuple[str, int, int]] = []
    for r in doc._rl.runs():
        if out and out[-1][0] == r.agent and out[-1][2] == r.seq:
            out[-1] = (r.agent, out[-1][1], r.seq + r.length)
        else:
            out.append((r.agent, r.seq, r.seq + r.length))
    return out


def session(seed: int, steps: int) -> tuple[dict[str, Text], dict[str, Text], int]:
    """Play a random session on both worlds; return them and the characters compacted
    while edits were still going on."""
    rnd = random.Random(seed)
    kept = {r: Text(r) for r in REPLICAS}
    comp = {r: Text(r) for r in REPLICAS}
    acks: list[tuple[str, str, VersionVector]] = []  # (from, to, version) in flight
    compacted = 0
    for _ in range(steps):
        r = rnd.choice(REPLICAS)
        roll = rnd.random()
        if roll < 0.35:
            pos = rnd.randint(0, len(kept[r]))
            text = rnd.choice(["x", "yz", "pqr", "é😀"])
            for world in (kept, comp):
                world[r].insert(pos, text)
        elif roll < 0.6 and len(kept[r]):
            pos = rnd.randrange(len(kept[r]))
            n = rnd.randint(1, min(4, len(kept[r]) - pos))
            for world in (kept, comp):
                world[r].delete(pos, n)
        elif roll < 0.85:
            src = rnd.choice([x for x in REPLICAS if x != r])
            for world in (kept, comp):
                world[r].merge(world[src].delta_since(world[r].version))
            acks.append((r, src, comp[r].version))
            if rnd.random() < 0.5:
                for peer in REPLICAS:
                    if peer != r:
                        acks.append((r, peer, comp[r].version))
        elif acks:
            src, dst, version = acks.pop(rnd.randrange(len(acks)))  # late, any order
            comp[dst].acknowledge(src, version)
        for doc in comp.values():
            compacted += doc.compact_stable(REPLICAS)
        for x in REPLICAS:
            assert str(comp[x]) == str(kept[x])
            assert comp[x].version == kept[x].version
            assert order(comp[x]) == order(kept[x])
    return kept, comp, compacted


def settle(kept: dict[str, Text], comp: dict[str, Text]) -> None:
    for _ in range(2):
        for world in (kept, comp):
            for doc in world.values():
                for other in world.values():
                    doc.merge(other.delta_since(doc.version))
    for doc in comp.values():
        for other in comp.values():
            doc.acknowledge(other.replica, other.version)
    for doc in comp.values():
        doc.compact_stable(REPLICAS)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.integers(20, 120))
def test_compacting_at_the_stable_cut_during_concurrent_edits_is_invisible(
    seed: int, steps: int
) -> None:
    kept, comp, _ = session(seed, steps)
    settle(kept, comp)
    texts = {str(doc) for doc in [*kept.values(), *comp.values()]}
    assert len(texts) == 1  # converged, and to the text of the world without compaction
    assert all(order(comp[r]) == order(kept[r]) for r in REPLICAS)
    for r in REPLICAS:
        doc, full = comp[r], kept[r]
        assert not doc._dels  # every delete op is stable: the log is empty
        tombstones = [x for x in doc._rl.runs() if x.deleted]
        assert all(x.left is None and x.right is None for x in tombstones)
        assert doc.run_count() <= full.run_count()
        if full._dels:  # something was deleted: the compacted replica holds less
            assert len(doc.encode()) < len(full.encode())
        # a compacted replica serves a replica that is past its floor, and a new one
        # through the whole document
        assert str(Text.decode(doc.encode())) == str(doc)


def test_compaction_happens_while_edits_are_concurrent() -> None:
    """The property above is not vacuous: the stable cut moves mid-session."""
    total = sum(session(seed, 150)[2] for seed in range(8))
    assert total > 50


def test_the_stable_cut_waits_for_every_peer_and_for_their_ops() -> None:
    a, b = Text("a"), Text("b")
    a.insert(0, "abc")
    b.merge(a)
    a.delete(0, 1)
    assert a.stable_version(["b"]) == VersionVector()  # b never acknowledged
    b.merge(a)
    x = b.insert(0, "X")  # b's op, not yet at a
    a.acknowledge("b", b.version)
    # b's ack covers an op a has not applied: it cannot count yet (that op may be
    # concurrent with what the ack would make stable).
    assert a.stable_version(["b"]) == VersionVector()
    assert a.compact_stable(["b"]) == 0
    a.merge(x)
    assert a.stable_version(["b"]) == VersionVector({"a": 4, "b": 1})
    assert a.compact_stable(["b"]) == 1
    assert a.compact_stable(["b"]) == 0  # nothing new
    a.acknowledge("b", VersionVector({"a": 1}))  # a late, older ack changes nothing
    assert a.stable_version(["b"]) == VersionVector({"a": 4, "b": 1})
    assert a.stable_version(["b", "c"]) == VersionVector()  # c is a member that never acked


def test_an_ack_counts_only_once_its_ops_are_applied_here() -> None:
    """Why: compacting a tombstone before an op concurrent with it arrives loses the
    origins that op's placement depends on, and replicas diverge.

    x (b's, then deleted by b) and y (c's) are typed concurrently between A and B;
    FugueMax puts x before y. c acknowledges x's deletion, but c made y before it saw
    x, so c's ack holds y. Had a compacted x on that ack before applying y, x would
    have no origins when y arrives, y would land before x, and b's later z (anchored on
    x) would end up on the other side of y at a than everywhere else.
    """
    a = Text("a")
    a.insert(0, "AB")
    b, c = a.fork("b"), a.fork("c")
    dx = b.insert(1, "x")
    dd = b.delete(1, 1)
    dy = c.insert(1, "y")
    c.merge(dx)
    c.merge(dd)
    a.merge(dx)
    a.merge(dd)
    a.acknowledge("b", b.version)
    a.acknowledge("c", c.version)
    assert a.compact_stable(["b", "c"]) == 0  # c's ack holds y, which a lacks
    a.merge(dy)
    assert a.compact_stable(["b", "c"]) == 1  # now x is stable and a has y
    dz = b.insert(1, "z")  # b sees A x B: z goes after the tombstone x
    for doc in (a, b, c):
        for d in (dx, dd, dy, dz):
            doc.merge(d)
    assert str(a) == str(b) == str(c) == "AzyB"
