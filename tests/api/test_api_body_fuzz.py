"""Fuzz the HTTP API's JSON body decoders: any document, including NaN, Infinity,
huge numbers and wrong types, is either accepted or refused with a clear 4xx error
(MalformedInput or ApiError); nothing else may escape (it would be a 500).
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from senate.api import leases, locks, members
from senate.api.errors import ApiError
from senate.api.txn import parse_txn
from senate.errors import MalformedInput

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 70), max_value=1 << 70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([10**400, -(10**400), 1e308, 5e-324])
    | st.text(max_size=8)
    | st.sampled_from(["put", "delete", "get", "value", "version", "=", "<", "base64", "ttl"])
)
_FIELDS = (
    *("compare", "success", "failure", "encoding", "key", "op", "target", "value"),
    *("lease", "ttl", "wait", "id", "peer", "http"),
)
_json = st.recursive(
    _scalars,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.sampled_from(_FIELDS) | st.text(max_size=4),
            kids,
            max_size=5,
        )
    ),
    max_leaves=12,
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _refused_cleanly(exc: BaseException) -> bool:
    if isinstance(exc, MalformedInput):
        return True
    return isinstance(exc, ApiError) and 400 <= exc.status < 500


def _raw(doc: Any) -> bytes:
    return json.dumps(doc).encode()  # NaN/Infinity as Python's json writes and reads them


@FUZZ
@given(_json)
def test_txn_bodies(doc: Any) -> None:
    try:
        parse_txn(doc)
    except Exception as exc:  # the test is about which errors escape
        assert _refused_cleanly(exc), repr(exc)


@FUZZ
@given(_json)
def test_lease_bodies(doc: Any) -> None:
    try:
        ms = leases._ttl_ms(doc)
    except Exception as exc:
        assert _refused_cleanly(exc), repr(exc)
    else:
        assert 1 <= ms <= leases.MAX_TTL_MS


@FUZZ
@given(_json | st.binary(max_size=64).map(lambda b: b))
def test_lock_bodies(doc: Any) -> None:
    raw = doc if isinstance(doc, bytes) else _raw(doc)
    try:
        ttl_ms, wait, lease = locks._body(raw)
    except Exception as exc:
        assert _refused_cleanly(exc), repr(exc)
    else:
        assert 1 <= ttl_ms <= locks.MAX_TTL_MS and math.isfinite(wait) and wait >= 0
        assert lease is None or (type(lease) is int and 1 <= lease <= locks._MAX_ID)


class _Content:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    async def read(self, n: int) -> bytes:
        return self.raw[:n]


class _Request:
    def __init__(self, raw: bytes) -> None:
        self.content = _Content(raw)


@FUZZ
@given(_json | st.binary(max_size=64))
def test_member_bodies(doc: Any) -> None:
    raw = doc if isinstance(doc, bytes) else _raw(doc)
    try:
        asyncio.run(members._add_body(_Request(raw)))  # type: ignore[arg-type]
    except Exception as exc:
        assert _refused_cleanly(exc), repr(exc)


@pytest.mark.parametrize("ttl", ["NaN", "Infinity", "-Infinity", "1e400", "1e306"])
def test_non_finite_and_huge_ttls_are_400(ttl: str) -> None:
    body = ('{"ttl": ' + ttl + "}").encode()
    with pytest.raises(MalformedInput):
        locks._body(body)
    with pytest.raises(MalformedInput):
        leases._ttl_ms(json.loads(body))
