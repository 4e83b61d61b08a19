"""Decoding untrusted bytes: every decoder raises DecodeError and nothing else, for
random bytes, random msgpack documents with a valid header, and mutated encodings."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from crdt_models import MODEL_IDS, MODELS, Model, run_history, steps
from hypothesis import given, settings
from hypothesis import strategies as st

from senate.crdt import (
    CRDT,
    CausalCounter,
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
from senate.errors import DecodeError

TYPES: list[type[CRDT]] = [
    GCounter,
    PNCounter,
    LWWRegister,
    MVRegister,
    CausalLWWRegister,
    EWFlag,
    DWFlag,
    GSet,
    TwoPSet,
    ORSet,
    ORMap,
    CausalCounter,
]
types = pytest.mark.parametrize("crdt_type", TYPES, ids=[t.TAG for t in TYPES])

# Plausible pieces: dots, ids, counters, and the odd wrong thing.
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.sampled_from(["a", "b", "", "ormap", "orset", "mvregister", "x" * 300]),
    st.binary(max_size=4),
    st.floats(allow_nan=True),
    st.builds(list, st.tuples(st.sampled_from(["a", "b"]), st.integers(-1, 4))),
)
documents = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4), max_leaves=24)


def _decode_only_decode_error(crdt_type: type[CRDT], data: bytes) -> None:
    try:
        out = crdt_type.decode(data)
    except DecodeError as exc:
        assert str(exc)
        return
    # Whatever decodes is a usable, canonical replica.
    again = type(out).decode(out.encode())
    assert again.encode() == out.encode()
    assert again.value == out.value


@types
@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=64))
def test_random_bytes(crdt_type: type[CRDT], data: bytes) -> None:
    _decode_only_decode_error(crdt_type, data)


@types
@settings(max_examples=80, deadline=None)
@given(state=documents, version=st.sampled_from([1, 1, 1, 2, "1"]))
def test_random_documents_with_a_valid_header(
    crdt_type: type[CRDT], state: Any, version: Any
) -> None:
    data = msgpack.packb([crdt_type.TAG, version, "r", state], use_bin_type=True)
    _decode_only_decode_error(crdt_type, data)


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_mutated_encodings(model: Model, data: st.DataObject) -> None:
    run = run_history(model, data.draw(steps(model)))
    good = bytearray(data.draw(st.sampled_from(run.replicas)).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(good) - 1))
        action = data.draw(st.sampled_from(["flip", "drop", "insert", "truncate"]))
        if action == "flip":
            good[where] ^= data.draw(st.integers(1, 255))
        elif action == "drop" and len(good) > 1:
            del good[where]
        elif action == "insert":
            good.insert(where, data.draw(st.integers(0, 255)))
        else:
            del good[max(1, where) :]
    _decode_only_decode_error(type(run.replicas[0]), bytes(good))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        "not bytes",
        None,
        msgpack.packb(["gcounter", 1, "r", [["a", 1], ["a", 2]]]),  # duplicate entry
        msgpack.packb(["orset", 1, "r", [[["x", [["a", 1]]]], [[], []]]]),  # dot outside ctx
        msgpack.packb(
            ["orset", 1, "r", [[["x", [["a", 1]]], ["y", [["a", 1]]]], [[["a", 1]], []]]]
        ),
        msgpack.packb(["ormap", 1, "r", [["ormap"] * 2, [], [[], []]]]),  # unknown value type
        msgpack.packb(["ormap", 1, "r", [["ormap", ["ormap", ["ormap"] * 2]], [], [[], []]]]),
        msgpack.packb(["lwwregister", 1, "r", [[2**64 - 1, ""], 1]]),
        msgpack.packb(["mvregister", 1, "r", [[[["a", 1], float("nan")]], [[["a", 1]], []]]]),
        msgpack.packb({"gcounter": 1}),
        msgpack.packb([[[[[[[[[[[[]]]]]]]]]]]]),
        b"\x91" * 100_000,  # deeper than msgpack's stack limit
    ],
)
def test_known_garbage_is_refused(data: Any) -> None:
    for crdt_type in TYPES:
        with pytest.raises(DecodeError):
            crdt_type.decode(data)


def test_deep_ormap_nesting_is_refused() -> None:
    descriptor: Any = "orset"
    for _ in range(20):
        descriptor = ["ormap", descriptor]
    data = msgpack.packb(["ormap", 1, "r", [descriptor, [], [[], []]]])
    with pytest.raises(DecodeError, match="deeper"):
        ORMap.decode(data)


def _paths(node: Any, here: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    out = [here]
    if isinstance(node, list):
        for i, child in enumerate(node):
            out.extend(_paths(child, (*here, i)))
    return out


def _replace(node: Any, path: tuple[int, ...], new: Any) -> Any:
    if not path:
        return new
    copy = list(node)
    copy[path[0]] = _replace(copy[path[0]], path[1:], new)
    return copy


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_structurally_mutated_documents(model: Model, data: st.DataObject) -> None:
    """Valid documents with one subtree replaced: reaches the deep validators."""
    run = run_history(model, data.draw(steps(model)))
    doc = msgpack.unpackb(data.draw(st.sampled_from(run.replicas)).encode(), raw=False)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)[1:]))
        doc = _replace(doc, path, data.draw(documents))
    _decode_only_decode_error(type(run.replicas[0]), msgpack.packb(doc, use_bin_type=True))
