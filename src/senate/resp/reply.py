"""RESP2 reply encoding: Python values to the bytes Redis clients expect.

Rules kept in this file:
- a reply is built as bytes once and appended to the connection's output; the
  constants below are the replies Redis sends most;
- RESP3 (after HELLO 3) differs only where a command says so: null is `_`, and
  `double` and `bulk_map` give its doubles and maps;
- `encode(value)` maps None -> null bulk, int -> integer, bytes/str -> bulk string,
  list/tuple -> array (nested), Simple -> status line, Error -> error line;
- status and error lines never contain CR or LF (they are replaced by spaces), so a
  message built from client input cannot forge a reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeAlias


@dataclass(frozen=True, slots=True)
class Simple:
    """A status reply: `+text`."""

    text: str


@dataclass(frozen=True, slots=True)
class Error:
    """An error reply: `-text` (text starts with the code, e.g. "ERR ...", "WRONGTYPE ...")."""

    text: str


Reply: TypeAlias = "int | bytes | str | Simple | Error | list[Reply] | tuple[Reply, ...] | None"

OK: Final = b"+OK\r\n"
PONG: Final = b"+PONG\r\n"
NULL: Final = b"$-1\r\n"
NULL3: Final = b"_\r\n"  # RESP3's null
NULL_ARRAY: Final = b"*-1\r\n"
EMPTY_ARRAY: Final = b"*0\r\n"
ZERO: Final = b":0\r\n"
ONE: Final = b":1\r\n"


def _line(text: str) -> bytes:
    return text.replace("\r", " ").replace("\n", " ").encode("utf-8", "replace")


def error(text: str) -> bytes:
    return b"-" + _line(text) + b"\r\n"


def simple(text: str) -> bytes:
    return b"+" + _line(text) + b"\r\n"


def integer(n: int) -> bytes:
    return b":%d\r\n" % n


def bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


def double(text: bytes) -> bytes:
    """A RESP3 double (`text` as formatted for a bulk string: digits, "inf", "-inf")."""
    return b",%s\r\n" % text


def bulk_map(items: list[bytes]) -> bytes:
    """A RESP3 map of alternating keys and values, all bulk strings."""
    parts = [b"%%%d\r\n" % (len(items) // 2)]
    for item in items:
        parts.append(b"$%d\r\n%s\r\n" % (len(item), item))
    return b"".join(parts)


def bulk_array(items: list[bytes]) -> bytes:
    parts = [b"*%d\r\n" % len(items)]
    for item in items:
        parts.append(b"$%d\r\n%s\r\n" % (len(item), item))
    return b"".join(parts)


def encode(value: Reply) -> bytes:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return ONE if value else ZERO
    if isinstance(value, int):
        return integer(value)
    if isinstance(value, bytes):
        return bulk(value)
    if isinstance(value, str):
        return bulk(value.encode("utf-8"))
    if isinstance(value, Simple):
        return simple(value.text)
    if isinstance(value, Error):
        return error(value.text)
    parts = [b"*%d\r\n" % len(value)]
    parts.extend(encode(item) for item in value)
    return b"".join(parts)
