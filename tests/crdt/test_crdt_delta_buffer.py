"""The delta buffer's ack protocol, and convergence over a lossy, duplicating,
reordering network where losses are repaired by re-sending (hypothesis)."""

from __future__ import annotations

import random

import pytest
from crdt_models import MODEL_IDS, MODELS, REPLICAS, Model, joined, same
from hypothesis import given, settings
from hypothesis import strategies as st

from senate.crdt import CRDT, DeltaBuffer, GSet, PNCounter
from senate.errors import CRDTError


def test_batches_join_unacked_deltas_and_acks_drop_them() -> None:
    c = PNCounter("a")
    buf: DeltaBuffer[PNCounter] = DeltaBuffer(["b", "c"], snapshot=c.copy)
    assert buf.batch_for("b") is None
    assert buf.push(c.increment(1)) == 1
    assert buf.push(c.increment(2)) == 2
    batch = buf.batch_for("b")
    assert batch is not None and batch.seq == 2 and not batch.full_state
    assert batch.payload.value == 3  # one delta-group for both
    buf.ack("b", 2)
    assert buf.batch_for("b") is None and len(buf) == 2  # c has not acked yet
    buf.ack("c", 1)
    assert len(buf) == 1
    later = buf.batch_for("c")
    assert later is not None and later.payload.value == 3  # the group holds only seq 2
    buf.ack("c", 1)  # a late duplicate ack changes nothing
    buf.ack("c", 2)
    assert len(buf) == 0 and buf.batch_for("c") is None


def test_new_or_lagging_peer_gets_a_snapshot() -> None:
    s = GSet("a")
    buf: DeltaBuffer[GSet] = DeltaBuffer(["b"], snapshot=s.copy)
    buf.push(s.add("x"))
    buf.ack("b", 1)
    assert len(buf) == 0
    buf.add_peer("c")
    batch = buf.batch_for("c")
    assert batch is not None and batch.full_state and batch.payload.value == {"x"}
    buf.ack("c", batch.seq)
    assert buf.batch_for("c") is None
    no_snapshot: DeltaBuffer[GSet] = DeltaBuffer()
    no_snapshot.push(s.add("y"))  # nobody to ship to: dropped
    assert len(no_snapshot) == 0
    no_snapshot.add_peer("b")
    with pytest.raises(CRDTError, match="snapshot"):
        no_snapshot.batch_for("b")


def test_bad_acks_and_peers_are_refused() -> None:
    buf: DeltaBuffer[GSet] = DeltaBuffer(["b"])
    buf.push(GSet("a").add("x"))
    with pytest.raises(CRDTError):
        buf.ack("b", 2)
    with pytest.raises(CRDTError):
        buf.ack("b", -1)
    with pytest.raises(CRDTError):
        buf.ack("zz", 1)
    buf.remove_peer("b")
    assert len(buf) == 0


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
@settings(max_examples=15, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32))
def test_lossy_network_converges_through_the_ack_protocol(
    model: Model, data: st.DataObject, seed: int
) -> None:
    rng = random.Random(seed)
    first = model.make(REPLICAS[0])
    replicas: dict[str, CRDT] = {r: first.fork(r) for r in REPLICAS[1:]}
    replicas[REPLICAS[0]] = first
    buffers = {
        r: DeltaBuffer([p for p in REPLICAS if p != r], snapshot=replicas[r].copy) for r in REPLICAS
    }
    # In flight: (kind, src, dst, seq, payload); kind "batch" or "ack".
    network: list[tuple[str, str, str, int, CRDT | None]] = []
    ops = data.draw(st.lists(st.tuples(st.sampled_from(REPLICAS), model.ops), max_size=12))

    def deliver(message: tuple[str, str, str, int, CRDT | None]) -> None:
        kind, src, dst, seq, payload = message
        if kind == "batch":
            assert payload is not None
            replicas[dst].merge(payload)
            network.append(("ack", dst, src, seq, None))
        else:
            buffers[dst].ack(src, seq)

    def gossip(lossy: bool) -> None:
        for src in REPLICAS:
            for dst in buffers[src].peers:
                batch = buffers[src].batch_for(dst)
                if batch is not None:
                    network.append(("batch", src, dst, batch.seq, batch.payload))
        rng.shuffle(network)  # reordering
        for message in list(network):
            network.remove(message)
            if lossy and rng.random() < 0.3:
                continue  # lost
            deliver(message)
            if lossy and rng.random() < 0.2:
                deliver(message)  # duplicated

    produced: list[CRDT] = []
    for replica_id, op in ops:
        try:
            delta = model.apply(replicas[replica_id], op)
        except CRDTError:
            continue
        produced.append(delta)
        buffers[replica_id].push(delta)
        if rng.random() < 0.5:
            gossip(lossy=True)
    # Repair: keep re-sending until every buffer is fully acknowledged.
    for _ in range(50):
        if all(len(b) == 0 for b in buffers.values()) and not network:
            break
        gossip(lossy=False)
    assert all(len(b) == 0 for b in buffers.values())
    target = joined(*replicas.values())
    # The deltas alone rebuild the state, from a replica that has seen nothing else.
    assert same(joined(model.make("z"), *produced), target)
    for replica in replicas.values():
        assert same(replica, target)
