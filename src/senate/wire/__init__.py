"""The wire layer: peer frames (frame.py), message envelopes and the handshake (codec.py).

Nothing here does I/O; the runtime's transport and the simulator both use it.
"""

from senate.wire.codec import Codec, Hello, Reject, default_codec
from senate.wire.frame import (
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE,
    FrameDecoder,
    decode_frame,
    encode_frame,
    encode_frames,
)

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "Codec",
    "FrameDecoder",
    "Hello",
    "Reject",
    "decode_frame",
    "default_codec",
    "encode_frame",
    "encode_frames",
]
