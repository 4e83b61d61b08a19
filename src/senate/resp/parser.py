"""RESP2 request parser: bytes from a client in, commands (lists of bytes) out.

Theory of operation: a client sends either a multibulk request (`*<n>\\r\\n` then n
bulk strings `$<len>\\r\\n<bytes>\\r\\n`) or an inline command (one line, words split
on spaces, with Redis's quoting rules). `feed(data)` buffers bytes and returns every
command completed by them, in order, so pipelined requests cost one call.

Rules kept in this file:
- every size is bounded before anything is buffered for it: a bulk length over
  `max_bulk`, an array length over `max_array`, an inline line over `max_inline`
  (searched for, not buffered beyond it) are protocol errors;
- a protocol error is final: the parser raises ProtocolError (the message is what
  Redis says, e.g. "Protocol error: invalid bulk length") and keeps failing, because
  the stream has lost its framing; the server replies `-ERR <message>` and closes;
- nothing but ProtocolError ever escapes `feed`, whatever the bytes (a fuzz test
  holds this file to it);
- empty inline lines and `*0`/`*-1` arrays are ignored, as Redis does.
"""

from __future__ import annotations

from typing import Final

from senate.errors import MalformedInput

DEFAULT_MAX_BULK: Final = 512 * 1024 * 1024  # Redis's proto-max-bulk-len
DEFAULT_MAX_ARRAY: Final = 1024 * 1024  # Redis's multibulk limit
DEFAULT_MAX_INLINE: Final = 64 * 1024  # Redis's PROTO_INLINE_MAX_SIZE
_MAX_DIGITS: Final = 20  # no valid length needs more; bounds the header search


class ProtocolError(MalformedInput):
    """The client broke RESP framing; reply `-ERR <message>` and close.

    `commands` holds the commands completed before the bad bytes in the same feed."""

    def __init__(self, message: str, commands: list[list[bytes]] | None = None) -> None:
        super().__init__(message)
        self.commands: list[list[bytes]] = commands or []


def _parse_len(raw: bytes | bytearray) -> int | None:
    """A decimal length as Redis's string2ll reads it: digits, optional '-'; None if not."""
    if not raw or len(raw) > _MAX_DIGITS:
        return None
    body = raw[1:] if raw[:1] == b"-" else raw
    if not body.isdigit() or (len(body) > 1 and body[:1] == b"0"):
        return None
    return int(raw)


def split_inline(line: bytes) -> list[bytes]:
    """Split an inline command like Redis's sdssplitargs (quotes and escapes)."""
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \t\n\r\v\f":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        quote = 0
        while True:
            if i >= n:
                if quote:
                    raise ProtocolError("Protocol error: unbalanced quotes in request")
                break
            c = line[i]
            if quote == 0x22:  # double quotes: escapes allowed
                if c == 0x5C and i + 3 < n and line[i + 1] == 0x78 and _is_hex(line[i + 2 : i + 4]):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif c == 0x22:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        raise ProtocolError("Protocol error: unbalanced quotes in request")
                    i += 1
                    break
                else:
                    cur.append(c)
            elif quote == 0x27:  # single quotes: only \' is an escape
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    cur.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        raise ProtocolError("Protocol error: unbalanced quotes in request")
                    i += 1
                    break
                else:
                    cur.append(c)
            elif c in b" \t\n\r\v\f":
                break
            elif c in (0x22, 0x27) and not cur:
                quote = c
            else:
                cur.append(c)
            i += 1
        args.append(bytes(cur))


_ESCAPES: Final = {0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09, 0x62: 0x08, 0x61: 0x07}


def _is_hex(two: bytes) -> bool:
    return len(two) == 2 and all(ch in b"0123456789abcdefABCDEF" for ch in two)


class RequestParser:
    """Incremental RESP2 request parser for one connection."""

    __slots__ = ("_args", "_buf", "_error", "_left", "_max_array", "_max_bulk", "_max_inline")

    def __init__(
        self,
        *,
        max_bulk: int = DEFAULT_MAX_BULK,
        max_array: int = DEFAULT_MAX_ARRAY,
        max_inline: int = DEFAULT_MAX_INLINE,
    ) -> None:
        self._buf = bytearray()
        self._max_bulk = max_bulk
        self._max_array = max_array
        self._max_inline = max_inline
        self._args: list[bytes] = []  # the multibulk request being read
        self._left = 0  # bulk strings still to read for it (0: between requests)
        self._error: str | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[list[bytes]]:
        """Add bytes; return every command they complete. Raises ProtocolError."""
        if self._error is not None:
            raise ProtocolError(self._error)
        self._buf += data
        out: list[list[bytes]] = []
        try:
            self._parse(out)
        except ProtocolError as exc:
            self._error = str(exc)
            self._buf = bytearray()
            raise ProtocolError(str(exc), out) from None
        return out

    def _parse(self, out: list[list[bytes]]) -> None:
        buf = self._buf
        pos = 0
        size = len(buf)
        try:
            while pos < size:
                if not self._left:
                    if buf[pos] != 0x2A:  # not '*': an inline command
                        end = buf.find(b"\n", pos, pos + self._max_inline + 1)
                        if end < 0:
                            if size - pos > self._max_inline:
                                raise ProtocolError("Protocol error: too big inline request")
                            return
                        line = bytes(buf[pos:end]).rstrip(b"\r")
                        pos = end + 1
                        args = split_inline(line)
                        if args:
                            out.append(args)
                        continue
                    end = buf.find(b"\r\n", pos, pos + _MAX_DIGITS + 3)
                    if end < 0:
                        if size - pos > _MAX_DIGITS + 2:
                            raise ProtocolError("Protocol error: invalid multibulk length")
                        return
                    count = _parse_len(buf[pos + 1 : end])
                    if count is None or count > self._max_array:
                        raise ProtocolError("Protocol error: invalid multibulk length")
                    pos = end + 2
                    if count <= 0:
                        continue
                    self._left = count
                    self._args = []
                # reading the bulk strings of a multibulk request
                if pos >= size:
                    return
                if buf[pos] != 0x24:  # '$'
                    got = chr(buf[pos]) if 32 <= buf[pos] < 127 else "?"
                    raise ProtocolError(f"Protocol error: expected '$', got '{got}'")
                end = buf.find(b"\r\n", pos, pos + _MAX_DIGITS + 3)
                if end < 0:
                    if size - pos > _MAX_DIGITS + 2:
                        raise ProtocolError("Protocol error: invalid bulk length")
                    return
                length = _parse_len(buf[pos + 1 : end])
                if length is None or length < 0 or length > self._max_bulk:
                    raise ProtocolError("Protocol error: invalid bulk length")
                start = end + 2
                if size < start + length + 2:
                    return  # wait for the whole bulk string
                if buf[start + length : start + length + 2] != b"\r\n":
                    raise ProtocolError("Protocol error: bulk string not terminated by CRLF")
                self._args.append(bytes(buf[start : start + length]))
                pos = start + length + 2
                self._left -= 1
                if not self._left:
                    out.append(self._args)
                    self._args = []
        finally:
            if pos:
                del buf[:pos]
