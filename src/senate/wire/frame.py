"""The peer frame: how one msgpack object travels over a byte stream between nodes.

Layout (big-endian, 12-byte header, then the payload):

    offset  size  field
    0       2     magic   b"SN"  (rejects a stray HTTP/RESP client at once)
    2       1     version FRAME_VERSION
    3       1     flags   0, or FLAG_FRAGMENT (0x01); any other bit is refused
    4       4     length  payload length in bytes, 1 .. max_frame_size
    8       4     crc     zlib.crc32 over bytes 2..8 of the header and the payload

The CRC also covers version, flags and length, so a flipped length bit that still
fits the size limit is caught once the (wrong) payload has arrived.

Messages larger than one frame (a Raft snapshot of a big KV state, a CRDT store's
whole state): encode_frames() sends a message whose msgpack payload fits in
max_frame_size as exactly the one frame encode_frame() always produced (flags 0,
same bytes), and splits a bigger one into fragment frames (flags FLAG_FRAGMENT)
of at most fragment_size payload bytes each. A fragment frame's payload is raw:

    offset  size  field
    0       8     msg_id  the same in every fragment of one message
    8       4     index   0 .. count-1, in order
    12      4     count   number of fragments, >= 2
    16      8     total   size of the whole msgpack payload, count .. max_message_size
    24      ...   chunk   the next 1.. bytes of the payload

A stream is FIFO, so the fragments of a message arrive back to back: any other
frame between them is an error, as is an index out of order, a changed id, count
or total, an empty chunk, more bytes than total, or fewer at the last index. The
decoder checks total against max_message_size on the first fragment, before it
buffers any of the message, and its reassembly buffer grows with the bytes that
actually arrived (never beyond total), so a peer's declared size costs nothing.
Frames with flags 0 are unchanged; a node without fragment support refuses a
fragment frame ("unknown frame flags") and closes that connection, which is how
an over-limit message ended before (it was never sent at all).

Rules the decoder keeps, because its input comes from the network:
- it validates each header field as soon as the bytes are there, and refuses an
  oversized length before buffering any of that payload;
- it never raises anything but MalformedInput, whose message says what was wrong;
- after one error it stays failed: the stream has lost framing and the only safe
  move for its owner is to drop the connection.
"""

from __future__ import annotations

import itertools
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
DEFAULT_MAX_MESSAGE_SIZE: Final = 1024 * 1024 * 1024  # a reassembled message, all fragments
DEFAULT_FRAGMENT_SIZE: Final = 8 * 1024 * 1024  # chunk bytes per fragment frame
FLAG_FRAGMENT: Final = 0x01
FRAGMENT_HEADER: Final = struct.Struct(">QIIQ")  # msg_id, index, count, total
FRAGMENT_HEADER_SIZE: Final = FRAGMENT_HEADER.size  # 24
_MAX_FRAGMENTS: Final = 0xFFFFFFFF
_message_ids = itertools.count(1)

# msgpack nests containers on a fixed C stack; these bound the rest.
_MAX_CONTAINER_LEN: Final = 1 << 20


def pack_payload(obj: object) -> bytes:
    """The msgpack encoding every frame payload uses (bin type for bytes)."""
    try:
        return msgpack.packb(obj, use_bin_type=True)
    except (TypeError, ValueError, OverflowError, msgpack.PackException) as exc:
        raise MalformedInput(f"cannot encode frame payload: {exc}") from exc


def unpack_payload(payload: bytes | bytearray, max_size: int = DEFAULT_MAX_FRAME_SIZE) -> object:
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


def _frame(flags: int, payload: bytes) -> bytes:
    head = struct.pack(">BBI", FRAME_VERSION, flags, len(payload))
    crc = zlib.crc32(payload, zlib.crc32(head))
    return HEADER.pack(MAGIC, FRAME_VERSION, flags, len(payload), crc) + payload


def encode_frames(
    payload_obj: object,
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    *,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    fragment_size: int = DEFAULT_FRAGMENT_SIZE,
) -> list[bytes]:
    """The frames carrying `payload_obj`, to be written in order on one stream.

    One frame, byte-identical to encode_frame(), when the payload fits in
    max_frame_size; else fragment frames of at most `fragment_size` payload bytes
    (clamped to the frame limit). MalformedInput if the payload cannot be encoded
    or exceeds max_message_size.
    """
    payload = pack_payload(payload_obj)
    size = len(payload)
    if size <= max_frame_size:
        return [_frame(0, payload)]
    if size > max_message_size:
        raise MalformedInput(
            f"message payload of {size} bytes exceeds the limit of {max_message_size}"
        )
    chunk = min(fragment_size, max_frame_size - FRAGMENT_HEADER_SIZE)
    if chunk < 1:
        raise ValueError("fragment_size and max_frame_size leave no room for fragment data")
    count = -(-size // chunk)
    if count > _MAX_FRAGMENTS:
        raise MalformedInput(f"message payload of {size} bytes needs too many fragments")
    msg_id = next(_message_ids) & 0xFFFFFFFFFFFFFFFF
    view = memoryview(payload)
    frames = []
    for index in range(count):
        piece = view[index * chunk : (index + 1) * chunk]
        body = FRAGMENT_HEADER.pack(msg_id, index, count, size) + piece
        frames.append(_frame(FLAG_FRAGMENT, body))
    return frames


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

    __slots__ = (
        "_asm",
        "_buf",
        "_error",
        "_flags",
        "_frag",
        "_max",
        "_max_message",
        "_need",
    )

    def __init__(
        self,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        if max_frame_size < 1 or max_message_size < 1:
            raise ValueError("max_frame_size and max_message_size must be positive")
        self._max = max_frame_size
        self._max_message = max_message_size
        self._buf = bytearray()
        self._need = 0  # payload length of the frame whose header was accepted, or 0
        self._flags = 0  # flags of that frame
        self._error: str | None = None
        # The message being reassembled: (msg_id, next index, count, total), or None.
        self._frag: tuple[int, int, int, int] | None = None
        self._asm = bytearray()

    @property
    def max_message_size(self) -> int:
        return self._max_message

    @max_message_size.setter
    def max_message_size(self, value: int) -> None:
        if value < 1:
            raise ValueError("max_message_size must be positive")
        self._max_message = value

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
        """Bytes held that do not yet form a whole message (frame bytes and fragments)."""
        return len(self._buf) + len(self._asm)

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
                if obj is not _FRAGMENT:
                    out.append(obj)
        except MalformedInput as exc:
            self._error = str(exc)
            self._buf = bytearray()
            self._asm = bytearray()
            self._frag = None
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
            if flags & ~FLAG_FRAGMENT:
                raise MalformedInput(f"unknown frame flags 0x{flags:02x}")
            if length == 0:
                raise MalformedInput("frame with an empty payload")
            if length > self._max:
                raise MalformedInput(
                    f"frame length {length} exceeds the limit of {self._max} bytes"
                )
            if flags & FLAG_FRAGMENT:
                if length <= FRAGMENT_HEADER_SIZE:
                    raise MalformedInput(f"fragment frame of {length} bytes carries no data")
            elif self._frag is not None:
                raise MalformedInput(
                    f"message {self._frag[0]} interrupted after fragment "
                    f"{self._frag[1] - 1} of {self._frag[2]}"
                )
            self._need = length
            self._flags = flags
        end = HEADER_SIZE + self._need
        if len(buf) < end:
            return _INCOMPLETE
        flags = self._flags
        self._need = 0
        self._flags = 0
        with memoryview(buf) as view:
            (crc,) = struct.unpack_from(">I", view, 8)
            payload_view = view[HEADER_SIZE:end]
            actual = zlib.crc32(payload_view, zlib.crc32(view[2:8]))
            if crc != actual:
                payload_view.release()
                raise MalformedInput(f"frame CRC mismatch (header {crc:08x}, payload {actual:08x})")
            if flags & FLAG_FRAGMENT:
                done = self._add_fragment(payload_view)
                payload_view.release()
                payload = None
            else:
                payload = bytes(payload_view)  # one copy per frame
                payload_view.release()
        del buf[:end]
        if payload is not None:
            return unpack_payload(payload, self._max)
        if not done:
            return _FRAGMENT  # a frame consumed, no message yet; more may be buffered
        message, self._asm = self._asm, bytearray()
        return unpack_payload(message, self._max_message)

    def _add_fragment(self, body: memoryview) -> bool:
        """Append one fragment's chunk (CRC already checked); True once complete."""
        msg_id, index, count, total = FRAGMENT_HEADER.unpack_from(body)
        chunk = body[FRAGMENT_HEADER_SIZE:]
        try:
            if self._frag is None:
                if index != 0:
                    raise MalformedInput(
                        f"fragment {index} of message {msg_id} without its first fragment"
                    )
                if count < 2:
                    raise MalformedInput(f"fragmented message {msg_id} of {count} fragments")
                if total > self._max_message:
                    raise MalformedInput(
                        f"message {msg_id} of {total} bytes exceeds the limit of "
                        f"{self._max_message} bytes"
                    )
                if total < count:
                    raise MalformedInput(
                        f"message {msg_id} of {total} bytes cannot fill {count} fragments"
                    )
            else:
                want_id, want_index, want_count, want_total = self._frag
                if (msg_id, count, total) != (want_id, want_count, want_total):
                    raise MalformedInput(
                        f"fragment of message {msg_id} ({count} fragments, {total} bytes) "
                        f"inside message {want_id} ({want_count} fragments, {want_total} bytes)"
                    )
                if index != want_index:
                    raise MalformedInput(
                        f"fragment {index} of message {msg_id} where {want_index} was due"
                    )
            have = len(self._asm) + len(chunk)
            last = index == count - 1
            # Every later fragment needs at least one byte of what is left.
            if (last and have != total) or (not last and have + (count - 1 - index) > total):
                raise MalformedInput(
                    f"fragment {index}/{count} of message {msg_id} brings {have} of {total} bytes"
                )
            self._asm += chunk
        finally:
            chunk.release()
        if last:
            self._frag = None
            return True
        self._frag = (msg_id, index + 1, count, total)
        return False

    def _check_partial_magic(self) -> None:
        # Check the magic byte by byte so garbage is refused on its first bytes,
        # not after we waited for a full header that may never come.
        n = min(len(self._buf), len(MAGIC))
        if bytes(self._buf[:n]) != MAGIC[:n]:
            raise MalformedInput(f"bad frame magic {bytes(self._buf[:n])!r} (want {MAGIC!r})")


class _Incomplete:
    __slots__ = ()


_INCOMPLETE: Final = _Incomplete()
_FRAGMENT: Final = _Incomplete()
