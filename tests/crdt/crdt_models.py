"""Shared test models: for each CRDT type, how to build a replica and which random
operations to run on it. Used by the law, convergence and fuzz tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from senate.crdt import (
    CRDT,
    CausalLWWRegister,
    DWFlag,
    EWFlag,
    GCounter,
    GSet,
    LWWRegister,
    MVRegister,
    ORMap,
    ORSet,
    PNCounter,
    TwoPSet,
)
from senate.errors import CRDTError

REPLICAS = ("a", "b", "c")
Op = tuple[Any, ...]

elements = st.sampled_from(["x", "y", "z", 1, 2, b"\x00"])
keys = st.sampled_from(["k", "l", 7])
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["s", "t", b"u", 1.5])
)


@dataclass(frozen=True)
class Model:
    name: str
    make: Callable[[str], CRDT]
    ops: st.SearchStrategy[Op]
    apply: Callable[[Any, Op], CRDT]


def _apply_simple(crdt: Any, op: Op) -> CRDT:
    name, *args = op
    result: CRDT = getattr(crdt, name)(*args)
    return result


def _apply_map(crdt: Any, op: Op) -> CRDT:
    name, key, *rest = op
    if name == "remove":
        result: CRDT = crdt.remove(key)
        return result
    if name == "clear":
        result = crdt.clear()
        return result
    inner_op: Op = tuple(rest)
    result = crdt.update(key, lambda v: _apply_simple(v, inner_op))
    return result


def _apply_nested(crdt: Any, op: Op) -> CRDT:
    name, key, *rest = op
    if name == "remove":
        result: CRDT = crdt.remove(key)
        return result
    inner_op: Op = tuple(rest)
    result = crdt.update(key, lambda v: _apply_map(v, inner_op))
    return result


def _apply_twice(crdt: Any, op: Op) -> CRDT:
    """An ORMap update that mutates its value several times in one go."""
    _, key, a, b = op
    result: CRDT = crdt.update(key, lambda v: (v.add(a), v.remove(b), v.add(b)))
    return result


MODELS = [
    Model(
        "gcounter",
        GCounter,
        st.tuples(st.just("increment"), st.integers(0, 5)),
        _apply_simple,
    ),
    Model(
        "pncounter",
        PNCounter,
        st.tuples(st.sampled_from(["increment", "decrement"]), st.integers(-5, 5)),
        _apply_simple,
    ),
    Model("lwwregister", LWWRegister, st.tuples(st.just("set"), scalars), _apply_simple),
    Model(
        "mvregister",
        MVRegister,
        st.one_of(st.tuples(st.just("set"), scalars), st.just(("clear",))),
        _apply_simple,
    ),
    Model(
        "causallww",
        CausalLWWRegister,
        st.one_of(st.tuples(st.just("set"), scalars), st.just(("clear",))),
        _apply_simple,
    ),
    Model(
        "ormap-causallww",
        lambda r: ORMap(r, CausalLWWRegister),
        st.one_of(
            st.tuples(st.just("update"), keys, st.just("set"), scalars),
            st.tuples(st.just("remove"), keys),
        ),
        _apply_map,
    ),
    Model("ewflag", EWFlag, st.sampled_from([("enable",), ("disable",)]), _apply_simple),
    Model("dwflag", DWFlag, st.sampled_from([("enable",), ("disable",)]), _apply_simple),
    Model("gset", GSet, st.tuples(st.just("add"), elements), _apply_simple),
    Model(
        "twopset",
        TwoPSet,
        st.tuples(st.sampled_from(["add", "remove"]), elements),
        _apply_simple,
    ),
    Model(
        "orset",
        ORSet,
        st.one_of(st.tuples(st.sampled_from(["add", "remove"]), elements), st.just(("clear",))),
        _apply_simple,
    ),
    Model(
        "ormap-orset",
        lambda r: ORMap(r, ORSet),
        st.one_of(
            st.tuples(st.just("update"), keys, st.sampled_from(["add", "remove"]), elements),
            st.tuples(st.just("remove"), keys),
            st.just(("clear", "k")),
        ),
        _apply_map,
    ),
    Model(
        "ormap-ewflag",
        lambda r: ORMap(r, EWFlag),
        st.one_of(
            st.tuples(st.just("update"), keys, st.sampled_from(["enable", "disable"])),
            st.tuples(st.just("remove"), keys),
        ),
        _apply_map,
    ),
    Model(
        "ormap-ormap-mvregister",
        lambda r: ORMap(r, ORMap.of(MVRegister)),
        st.one_of(
            st.tuples(st.just("update"), keys, st.just("update"), keys, st.just("set"), scalars),
            st.tuples(st.just("update"), keys, st.just("remove"), keys),
            st.tuples(st.just("remove"), keys),
        ),
        _apply_nested,
    ),
]

# Maps of counters (HINCRBY/HDEL), flat and nested; several increments in one update.
counter_ops = st.one_of(
    st.tuples(st.sampled_from(["increment", "decrement"]), st.integers(-5, 5)),
    st.just(("reset",)),
)
MODELS.append(
    Model(
        "ormap-pncounter",
        lambda r: ORMap(r, PNCounter),
        st.one_of(
            st.tuples(st.just("update"), keys).flatmap(
                lambda head: counter_ops.map(lambda op: (*head, *op))
            ),
            st.tuples(st.just("remove"), keys),
            st.tuples(st.just("twice"), keys, st.integers(-3, 3), st.integers(-3, 3)),
        ),
        lambda c, op: (
            c.update(op[1], lambda v: (v.increment(op[2]), v.increment(op[3])))
            if op[0] == "twice"
            else _apply_map(c, op)
        ),
    )
)
MODELS.append(
    Model(
        "ormap-ormap-pncounter",
        lambda r: ORMap(r, ORMap.of(PNCounter)),
        st.one_of(
            st.tuples(
                st.just("update"),
                keys,
                st.just("update"),
                keys,
                st.just("increment"),
                st.integers(-3, 3),
            ),
            st.tuples(st.just("update"), keys, st.just("remove"), keys),
            st.tuples(st.just("remove"), keys),
        ),
        _apply_nested,
    )
)

# Several mutations of one value inside one update (deltas must still be exact).
MODELS.append(
    Model(
        "ormap-orset-multi",
        lambda r: ORMap(r, ORSet),
        st.one_of(
            st.tuples(st.just("multi"), keys, elements, elements),
            st.tuples(st.just("remove"), keys),
        ),
        lambda c, op: _apply_twice(c, op) if op[0] == "multi" else _apply_map(c, op),
    )
)

MODEL_IDS = [m.name for m in MODELS]


# A history: each step either runs an op at a replica or syncs a whole replica to another.
def steps(model: Model) -> st.SearchStrategy[list[tuple[str, int, Any]]]:
    op_step = st.tuples(st.just("op"), st.integers(0, 2), model.ops)
    sync_step = st.tuples(st.just("sync"), st.integers(0, 2), st.integers(0, 2))
    return st.lists(st.one_of(op_step, op_step, sync_step), max_size=14)


@dataclass
class Run:
    replicas: list[CRDT]
    deltas: list[CRDT]  # every delta, in the order produced
    # (state before, delta, state after) of every local mutation
    mutations: list[tuple[CRDT, CRDT, CRDT]]


def run_history(model: Model, history: list[tuple[str, int, Any]]) -> Run:
    first = model.make(REPLICAS[0])
    replicas = [first, first.fork(REPLICAS[1]), first.fork(REPLICAS[2])]
    deltas: list[CRDT] = []
    mutations: list[tuple[CRDT, CRDT, CRDT]] = []
    for kind, i, arg in history:
        if kind == "sync":
            if i != arg:
                replicas[arg].merge(replicas[i].copy())
            continue
        before = replicas[i].copy()
        try:
            delta = model.apply(replicas[i], arg)
        except CRDTError:
            # A refused op (e.g. a two-phase set precondition) must change nothing.
            assert replicas[i] == before
            continue
        deltas.append(delta)
        mutations.append((before, delta, replicas[i].copy()))
    return Run(replicas, deltas, mutations)


def joined(*states: CRDT) -> CRDT:
    out = states[0].copy()
    for s in states[1:]:
        out.merge(s)
    return out


def same(x: CRDT, y: CRDT) -> bool:
    """Equal by value and by canonical encoded state."""
    return bool(x.value == y.value and x.encode_state() == y.encode_state())
