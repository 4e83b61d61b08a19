"""The request codec: round trips, and every rule of CONTRACT.md enforced on decode."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from senate.errors import MalformedInput
from senate.kv import Delete, Put, Request, decode_request, encode_request

keys = st.text(
    alphabet=st.characters(codec="utf-8", blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
)
revs = st.none() | st.integers(0, 2**63 - 1)
vals = st.none() | st.binary(max_size=64)
ops = st.builds(Put, keys, st.binary(max_size=64), revs, vals) | st.builds(Delete, keys, revs, vals)
ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
requests = st.builds(Request, ids, st.integers(1, 2**63 - 1), ops)


def raw(client_id: object, seq: object, op: object) -> bytes:
    packed: bytes = msgpack.packb([client_id, seq, op], use_bin_type=True)
    return packed


@given(requests)
def test_round_trip(req: Request) -> None:
    assert decode_request(encode_request(req)) == req


def test_put_and_delete_round_trip() -> None:
    for req in [
        Request("c", 1, Put("k", b"v")),
        Request("c", 2, Put("k", b"", prev_revision=0)),
        Request("c", 3, Put("k", b"v", prev_value=b"old")),
        Request("c", 4, Delete("k")),
        Request("c", 5, Delete("k", prev_revision=7, prev_value=b"x")),
    ]:
        assert decode_request(encode_request(req)) == req


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "msgpack"),
        (b"\xc1", "msgpack"),
        (raw("c", 1, [0, "k", b"v", None, None]) + b"\x00", "msgpack"),
        (msgpack.packb({"a": 1}), "3-element"),
        (raw("", 1, [0, "k", b"v", None, None]), "client_id"),
        (raw("x" * 300, 1, [0, "k", b"v", None, None]), "client_id"),
        (raw(7, 1, [0, "k", b"v", None, None]), "client_id"),
        (raw("c", 0, [0, "k", b"v", None, None]), "seq"),
        (raw("c", -1, [0, "k", b"v", None, None]), "seq"),
        (raw("c", True, [0, "k", b"v", None, None]), "seq"),
        (raw("c", 1.5, [0, "k", b"v", None, None]), "seq"),
        (raw("c", 2**64 - 1, [0, "k", b"v", None, None]), "seq"),
        (raw("c", 1, [0, "", b"v", None, None]), "key"),
        (raw("c", 1, [0, "a\x00b", b"v", None, None]), "NUL"),
        (raw("c", 1, [0, "é" * 513, b"v", None, None]), "key"),
        (raw("c", 1, [0, b"k", b"v", None, None]), "key"),
        (raw("c", 1, [0, "k", "v", None, None]), "value"),
        (raw("c", 1, [0, "k", b"v" * (2**20 + 1), None, None]), "limit"),
        (raw("c", 1, [0, "k", b"v", -1, None]), "prev_revision"),
        (raw("c", 1, [0, "k", b"v", "1", None]), "prev_revision"),
        (raw("c", 1, [0, "k", b"v", None, "x"]), "prev_value"),
        (raw("c", 1, [1, "k", b"v", None, None]), "op code"),
        (raw("c", 1, [9, "k", None, None]), "op code"),
        (raw("c", 1, [True, "k", None, None]), "op code"),
        (raw("c", 1, []), "op"),
        (raw("c", 1, "put"), "op"),
    ],
)
def test_decode_rejects(data: bytes, needle: str) -> None:
    with pytest.raises(MalformedInput, match=needle):
        decode_request(data)


def test_key_of_1024_bytes_is_fine_1025_is_not() -> None:
    assert decode_request(raw("c", 1, [0, "k" * 1024, b"", None, None])).op == Put("k" * 1024, b"")
    with pytest.raises(MalformedInput):
        decode_request(raw("c", 1, [0, "k" * 1025, b"", None, None]))


def test_value_bound_is_configurable() -> None:
    data = raw("c", 1, [0, "k", b"12345", None, None])
    assert decode_request(data, max_value_bytes=5).op == Put("k", b"12345")
    with pytest.raises(MalformedInput):
        decode_request(data, max_value_bytes=4)


def test_encode_refuses_what_decode_would_refuse() -> None:
    with pytest.raises(MalformedInput):
        encode_request(Request("c", 1, Put("", b"v")))
    with pytest.raises(MalformedInput):
        encode_request(Request("c", 0, Delete("k")))
    with pytest.raises(MalformedInput):
        encode_request(Request("\ud800", 1, Delete("k")))


@given(st.binary(max_size=200))
def test_garbage_never_crashes_decode(data: bytes) -> None:
    with contextlib.suppress(MalformedInput):
        decode_request(data)


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=5)
        | st.binary(max_size=5)
        | st.floats(),
        lambda inner: (
            st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=20,
    )
)
def test_structured_garbage_never_crashes_decode(obj: object) -> None:
    try:
        data = msgpack.packb(obj, use_bin_type=True)
    except (OverflowError, ValueError):
        return
    with contextlib.suppress(MalformedInput):
        decode_request(data)
