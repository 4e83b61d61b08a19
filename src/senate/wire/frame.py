"""The peer frame: how one msgpack object travels over a byte stream between nodes.

Layout (big-endian, 12-byte header, then the payload):

    offset  size  field
    0       2     magic   b"SN"  (rejects a stray HTTP/RESP client at once)
    2       1     version FRAME_VERSION
    3       1     flags   must be 0 in version 1 (room to grow: compression ...)
    4       4     length  payload length in bytes, 1 .. max_frame_size
    8       4     crc     zlib.crc32 over bytes 2..8 of the header and the payload

The CRC also covers version, flags and length, so a flipped length bit that still
fits the size limit is caught once the (wrong) payload has arrived.

Rules the decoder keeps, because its input comes from the network:
- it validates each header field as soon as the bytes are there, and refuses an
  oversized length before buffering any of that payload;
- it never raises anything but MalformedInput, whose message says what was wrong;
- after one error it stays failed: the stream has lost framing and the only safe
  move for its owner is to drop the connection.
"""

from __future__ import annotations

import struct
import zlib
from typing import Final

import msgpack

from senate.errors import MalformedInput

MAGIC: Final = b"SN"
FRAME_VERSION: Final = 1
HEADER: Final = struct.Struct(">2sBBII")
HEADER_SIZE: Final = HEADER.size  # 12
DEFAULT_MAX_FRAME_SIZE: Final = 64 * 1024 * 1024  # large enough for a snapshot chunk

# msgpack nests containers on a fixed C stack; these bound the rest.
_MAX_CONTAINER_LEN: Final = 1 << 20


def pack_payload(obj: object) -> bytes:
    """The msgpack encoding every frame payload uses (bin type for bytes)."""
    try:
        return msgpack.packb(obj, use_bin_type=True)
    except (TypeError, ValueError, OverflowError, msgpack.PackException) as exc:
        raise MalformedInput(f"cannot encode frame payload: {exc}") from exc


def unpack_payload(payload: bytes, max_size: int = DEFAULT_MAX_FRAME_SIZE) -> object:
    """Decode one payload with strict limits; any failure is MalformedInput."""
    if not payload:
        raise MalformedInput("empty frame payload")
    limit = min(len(payload), max_size)
    try:
        return msgpack.unpackb(
            payload,
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_str_len=limit,
            max_bin_len=limit,
            max_array_len=min(limit, _MAX_CONTAINER_LEN),
            max_map_len=min(limit, _MAX_CONTAINER_LEN),
            max_ext_len=0,  # no extension types on the wire
        )
    except RecursionError as exc:
        raise MalformedInput("frame payload nests too deeply") from exc
    # Untrusted bytes: msgpack documents ValueError/FormatError/StackError/ExtraData
    # but says "other exceptions can be raised"; every one means a bad payload.
    except Exception as exc:
        raise MalformedInput(f"undecodable frame payload: {type(exc).__name__}: {exc}") from exc


def encode_frame(payload_obj: object, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> bytes:
    """One complete frame carrying `payload_obj`. MalformedInput if it cannot be sent."""
    payload = pack_payload(payload_obj)
    if len(payload) > max_frame_size:
        raise MalformedInput(
            f"frame payload of {len(payload)} bytes exceeds the limit of {max_frame_size}"
        )
    head = struct.pack(">BBI", FRAME_VERSION, 0, len(payload))
    crc = zlib.crc32(payload, zlib.crc32(head))
    return HEADER.pack(MAGIC, FRAME_VERSION, 0, len(payload), crc) + payload


def decode_frame(data: bytes, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> object:
    """Decode exactly one complete frame (no bytes missing, none left over)."""
    decoder = FrameDecoder(max_frame_size)
    objs = decoder.feed(data)
    if len(objs) != 1 or decoder.buffered:
        raise MalformedInput(
            f"expected exactly one frame, got {len(objs)} and {decoder.buffered} spare bytes"
        )
    return objs[0]


class FrameDecoder:
    """Incremental decoder: feed bytes as they arrive, get back whole payload objects."""

    __slots__ = ("_buf", "_error", "_max", "_need")

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        if max_frame_size < 1:
            raise ValueError("max_frame_size must be positive")
        self._max = max_frame_size
        self._buf = bytearray()
        self._need = 0  # payload length of the frame whose header was accepted, or 0
        self._error: str | None = None

    @property
    def max_frame_size(self) -> int:
        return self._max

    @max_frame_size.setter
    def max_frame_size(self, value: int) -> None:
        # A connection reads its handshake under a small limit, then raises it.
        if value < 1:
            raise ValueError("max_frame_size must be positive")
        self._max = value

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet form a whole frame."""
        return len(self._buf)

    @property
    def failed(self) -> bool:
        return self._error is not None

    def feed(self, data: bytes | bytearray | memoryview) -> list[object]:
        """Add bytes; return the objects of every frame completed by them, in order.

        Raises MalformedInput on the first invalid byte; the objects of frames that
        completed before the bad one in the same call are lost with the connection.
        """
        if self._error is not None:
            raise MalformedInput(f"frame stream already failed: {self._error}")
        self._buf += data
        out: list[object] = []
        try:
            while True:
                obj = self._next()
                if obj is _INCOMPLETE:
                    return out
                out.append(obj)
        except MalformedInput as exc:
            self._error = str(exc)
            self._buf = bytearray()
            raise

    def _next(self) -> object:
        buf = self._buf
        if not self._need:
            self._check_partial_magic()
            if len(buf) < HEADER_SIZE:
                return _INCOMPLETE
            _magic, version, flags, length, _crc = HEADER.unpack_from(buf)
            if version != FRAME_VERSION:
                raise MalformedInput(
                    f"unsupported frame version {version} (this node speaks {FRAME_VERSION})"
                )
            if flags != 0:
                raise MalformedInput(f"unknown frame flags 0x{flags:02x}")
            if length == 0:
                raise MalformedInput("frame with an empty payload")
            if length > self._max:
                raise MalformedInput(
                    f"frame length {length} exceeds the limit of {self._max} bytes"
                )
            self._need = length
        end = HEADER_SIZE + self._need
        if len(buf) < end:
            return _INCOMPLETE
        head = bytes(buf[:HEADER_SIZE])
        payload = bytes(buf[HEADER_SIZE:end])
        del buf[:end]  # frames are large relative to headers; one copy per frame
        self._need = 0
        (crc,) = struct.unpack_from(">I", head, 8)
        actual = zlib.crc32(payload, zlib.crc32(head[2:8]))
        if crc != actual:
            raise MalformedInput(f"frame CRC mismatch (header {crc:08x}, payload {actual:08x})")
        return unpack_payload(payload, self._max)

    def _check_partial_magic(self) -> None:
        # Check the magic byte by byte so garbage is refused on its first bytes,
        # not after we waited for a full header that may never come.
        n = min(len(self._buf), len(MAGIC))
        if bytes(self._buf[:n]) != MAGIC[:n]:
            raise MalformedInput(f"bad frame magic {bytes(self._buf[:n])!r} (want {MAGIC!r})")


class _Incomplete:
    __slots__ = ()


_INCOMPLETE: Final = _Incomplete()
