"""The Redis protocol (RESP2; RESP3 replies after HELLO 3, where they differ): a bounded
request parser, reply encoding and an asyncio server that hands whole commands to a
handler. Knows nothing of what commands mean."""

from senate.resp.parser import ProtocolError, RequestParser, split_inline
from senate.resp.reply import Error, Reply, Simple, encode
from senate.resp.server import CommandHandler, RespServer

__all__ = [
    "CommandHandler",
    "Error",
    "ProtocolError",
    "Reply",
    "RequestParser",
    "RespServer",
    "Simple",
    "encode",
    "split_inline",
]
