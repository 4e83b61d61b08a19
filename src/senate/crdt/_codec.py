"""Encoding helpers shared by every CRDT: canonical msgpack out, validated msgpack in.

Rules kept in this file:
- everything encoded is built from lists, ints, str, bytes, bool, float and None (no
  msgpack maps, no ext types), sorted so that equal states encode to equal bytes;
- everything decoded is untrusted: each helper checks type and range and raises
  DecodeError naming what was wrong; no other exception escapes a decoder.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeAlias, TypeGuard

import msgpack

from senate.clocks import Dot, DotContext, HLCTimestamp
from senate.clocks._validate import MAX_ID_LENGTH
from senate.errors import ClockError, CRDTError, DecodeError

# A register value (MVRegister, LWWRegister): msgpack scalars.
Scalar: TypeAlias = bool | int | float | str | bytes | None
# A set element or map key: hashable values whose equality matches their encoding
# (bool and float are left out: True == 1 == 1.0 in Python but not on the wire).
Element: TypeAlias = str | bytes | int

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
MAX_COUNT = 2**64 - 1
MAX_DEPTH = 8  # nesting limit of ORMap value types in one document


def pack(obj: object) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


def unpack(data: object, what: str) -> Any:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"an encoded {what} must be bytes, got {type(data).__name__}")
    try:
        return msgpack.unpackb(bytes(data), raw=False, use_list=True, strict_map_key=True)
    except Exception as exc:  # msgpack raises many types for bad input; all mean "malformed"
        raise DecodeError(f"an encoded {what} is not valid msgpack: {exc}") from None


def sort_key(value: Scalar) -> bytes:
    """A total, type-independent order for values: their canonical encoding."""
    return pack(value)


# -- checks for local API input (CRDTError) ---------------------------------------------
def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_element(value: object) -> Element:
    if isinstance(value, str | bytes) or (is_int(value) and _INT_MIN <= value <= _INT_MAX):
        return value
    raise CRDTError(
        f"set elements and map keys must be str, bytes or a 64-bit int, got {value!r:.60}"
    )


def check_scalar(value: object) -> Scalar:
    if value is None or isinstance(value, bool | str | bytes):
        return value
    if is_int(value) and _INT_MIN <= value <= _INT_MAX:
        return value
    if isinstance(value, float) and not math.isnan(value):
        return value
    raise CRDTError(
        "register values must be None, bool, a 64-bit int, a non-NaN float, str or bytes, "
        f"got {value!r:.60}"
    )


def check_amount(value: object, what: str) -> int:
    if not is_int(value) or value < 0 or value > MAX_COUNT:
        raise CRDTError(f"{what} must be an int in [0, 2**64-1], got {value!r:.60}")
    return value


# -- checks for decoded input (DecodeError) ----------------------------------------------
def expect_list(obj: object, what: str, length: int | None = None) -> list[Any]:
    if not isinstance(obj, list):
        raise DecodeError(f"{what} must be a list, got {type(obj).__name__}")
    if length is not None and len(obj) != length:
        raise DecodeError(f"{what} must have {length} items, got {len(obj)}")
    return obj


def expect_id(obj: object, what: str) -> str:
    if not isinstance(obj, str) or not obj or len(obj) > MAX_ID_LENGTH:
        raise DecodeError(f"{what} must be a non-empty string of at most {MAX_ID_LENGTH} chars")
    return obj


def expect_uint(obj: object, what: str, minimum: int = 0) -> int:
    if not is_int(obj) or obj < minimum or obj > MAX_COUNT:
        raise DecodeError(f"{what} must be an int in [{minimum}, 2**64-1], got {obj!r:.40}")
    return obj


def expect_element(obj: object, what: str = "element") -> Element:
    try:
        return check_element(obj)
    except CRDTError as exc:
        raise DecodeError(f"bad {what}: {exc}") from None


def expect_scalar(obj: object, what: str = "value") -> Scalar:
    try:
        return check_scalar(obj)
    except CRDTError as exc:
        raise DecodeError(f"bad {what}: {exc}") from None


def expect_bool(obj: object, what: str) -> bool:
    if not isinstance(obj, bool):
        raise DecodeError(f"{what} must be a bool, got {obj!r:.40}")
    return obj


def unique_keys(pairs: Iterable[tuple[Any, Any]], what: str) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DecodeError(f"{what} lists {key!r:.40} twice")
        out[key] = value
    return out


# -- dots, contexts, timestamps ------------------------------------------------------------
def dot_plain(dot: Dot) -> list[Any]:
    return [dot.replica, dot.counter]


def expect_dot(obj: object) -> Dot:
    replica, counter = expect_list(obj, "dot", 2)
    return Dot(expect_id(replica, "dot replica"), expect_uint(counter, "dot counter", 1))


def expect_dots(obj: object, what: str) -> list[Dot]:
    dots = [expect_dot(item) for item in expect_list(obj, what)]
    if len(set(dots)) != len(dots):
        raise DecodeError(f"{what} lists a dot twice")
    return dots


def ctx_plain(ctx: DotContext) -> list[Any]:
    vv, cloud = ctx.to_plain()
    return [[list(p) for p in vv], [list(p) for p in cloud]]


def expect_ctx(obj: object) -> DotContext:
    vv, cloud = expect_list(obj, "causal context", 2)
    try:
        return DotContext.from_plain(vv, cloud)
    except ClockError as exc:
        raise DecodeError(f"bad causal context: {exc}") from None


def hlc_plain(ts: HLCTimestamp) -> list[Any]:
    return [ts.pack(), ts.node]


def expect_hlc(obj: object) -> HLCTimestamp:
    packed, node = expect_list(obj, "HLC timestamp", 2)
    return HLCTimestamp.unpack(packed, node)
