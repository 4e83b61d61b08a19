"""Semilattice laws and delta correctness for every CRDT type (hypothesis).

For random histories on three replicas (local ops and whole-state syncs):
- merge is commutative, associative and idempotent, by value and by canonical bytes;
- each delta is exact: before ⊔ delta == after, and any state that has seen `before`
  gets the same from the delta as from the whole state after the mutation;
- deltas delivered in any order, with duplicates, converge to the join of the replicas;
- encode/decode round-trips.
"""

from __future__ import annotations

import random

import pytest
from crdt_models import MODEL_IDS, MODELS, Model, joined, run_history, same, steps
from hypothesis import given, settings
from hypothesis import strategies as st

FAST = settings(max_examples=25, deadline=None)
models = pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)


@models
@FAST
@given(data=st.data())
def test_merge_commutative_associative_idempotent(model: Model, data: st.DataObject) -> None:
    run = run_history(model, data.draw(steps(model)))
    x, y, z = run.replicas
    # Deltas are states too: include one in the mix when there is any.
    if run.deltas:
        z = joined(z, data.draw(st.sampled_from(run.deltas)))
    assert same(joined(x, y), joined(y, x))
    assert same(joined(joined(x, y), z), joined(x, joined(y, z)))
    assert same(joined(x, x), x)
    assert same(joined(x, y, y), joined(x, y))
    assert joined(x, y) == joined(y, x)


@models
@FAST
@given(data=st.data())
def test_delta_is_exact(model: Model, data: st.DataObject) -> None:
    run = run_history(model, data.draw(steps(model)))
    for before, delta, after in run.mutations:
        assert same(joined(before, delta), after)
        other = data.draw(st.sampled_from(run.replicas))
        seen_before = joined(other, before)
        assert same(joined(seen_before, delta), joined(seen_before, after))


@models
@FAST
@given(data=st.data())
def test_deltas_in_any_order_with_duplicates_converge(model: Model, data: st.DataObject) -> None:
    run = run_history(model, data.draw(steps(model)))
    target = joined(*run.replicas)
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    for replica in run.replicas:
        # Everything the others produced, shuffled, some twice.
        mail = run.deltas + [d for d in run.deltas if rng.random() < 0.3]
        rng.shuffle(mail)
        for delta in mail:
            replica.merge(delta)
        assert same(replica, target)
    # The deltas alone carry everything that happened: a replica that has seen
    # nothing else (not a fork of one that already holds it all) rebuilds the join.
    fresh = model.make("fresh")
    empty = type(fresh).decode(fresh.encode())
    for delta in reversed(run.deltas):
        empty.merge(delta)
    assert same(empty, target)


@models
@FAST
@given(data=st.data())
def test_encode_decode_round_trip(model: Model, data: st.DataObject) -> None:
    run = run_history(model, data.draw(steps(model)))
    for state in [*run.replicas, *run.deltas]:
        back = type(state).decode(state.encode())
        assert back.replica == state.replica
        assert same(back, state) and back.encode() == state.encode()


FIRST_OP: dict[str, tuple[object, ...]] = {
    "gcounter": ("increment", 2),
    "pncounter": ("increment", -2),
    "lwwregister": ("set", "v"),
    "mvregister": ("set", "v"),
    "causallww": ("set", "v"),
    "ormap-causallww": ("update", "k", "set", "v"),
    "ewflag": ("enable",),
    "dwflag": ("enable",),
    "gset": ("add", "x"),
    "twopset": ("add", "x"),
    "orset": ("add", "x"),
    "ormap-orset": ("update", "k", "add", "x"),
    "ormap-ewflag": ("update", "k", "enable"),
    "ormap-ormap-mvregister": ("update", "k", "update", "l", "set", 1),
    "ormap-orset-multi": ("multi", "k", "x", "y"),
    "ormap-pncounter": ("update", "k", "increment", 3),
    "ormap-ormap-pncounter": ("update", "k", "update", "l", "increment", 2),
}


@models
def test_fork_is_independent(model: Model) -> None:
    a = model.make("a")
    b = a.fork("b")
    assert b.replica == "b" and same(a, b)
    snapshot = a.copy()
    delta = model.apply(b, FIRST_OP[model.name])
    assert a == snapshot and b != a
    assert delta.replica == "b"
    a.merge(delta)
    assert same(a, b)
