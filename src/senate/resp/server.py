"""An asyncio RESP2 server: connections, pipelining, and replies held until durable.

Theory of operation: each connection is an asyncio.Protocol. Bytes are parsed into
commands; every command is executed at once by the handler (in memory, in arrival
order) and its encoded reply appended to the connection's output. After a chunk of
input, the output is released when the handler says everything it has written so far
is durable (`barrier()` is the position of the last log record appended; `durable()`
the position made durable by the last fsync). So a pipeline of writes costs one
group-committed fsync, and a reply, even to a read, never shows data that a crash
could still lose.

Rules kept in this file:
- replies leave in request order; output held for durability is flushed whole;
- a protocol error answers `-ERR Protocol error: ...` after the replies before it,
  then closes the connection (the stream has lost its framing);
- a handler exception is a bug: the client gets `-ERR internal error`, the server logs
  it and goes on; the server itself never dies from one connection;
- flow control: when the socket's write buffer is full, or too much output waits for
  durability, reading pauses (a client that never reads cannot grow our memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Final, Protocol, cast

from senate.resp import reply as enc
from senate.resp.parser import DEFAULT_MAX_BULK, ProtocolError, RequestParser

logger = logging.getLogger("senate.resp")

_HOLD_LIMIT: Final = 4 * 1024 * 1024  # held output that pauses reading


@dataclass(slots=True)
class Session:
    """Per-connection state a handler may use (client name, id)."""

    id: int
    proto: int = 2  # 3 after HELLO 3 (RESP3 replies where they differ)
    name: bytes = b""
    peer: str = ""
    attrs: dict[str, object] = field(default_factory=dict)


class CommandHandler(Protocol):
    """What the server needs of the command layer."""

    def execute(self, args: list[bytes], session: Session) -> bytes:
        """Run one command; return its encoded reply."""
        ...

    def barrier(self) -> int:
        """The position of the last durable-log record written so far (0: none)."""
        ...

    def durable(self) -> int:
        """The position up to which the log is durable."""
        ...

    def when_durable(self, position: int) -> asyncio.Future[None]:
        """A future done once `durable() >= position` (or failed if the log broke)."""
        ...


class _Conn(asyncio.Protocol):
    __slots__ = (
        "_closing",
        "_held",
        "_holding",
        "_paused_read",
        "_paused_write",
        "_server",
        "parser",
        "session",
        "transport",
    )

    def __init__(self, server: RespServer, session: Session) -> None:
        self._server = server
        self.session = session
        self.parser = RequestParser(max_bulk=server.max_bulk)
        self.transport: asyncio.Transport | None = None
        self._held: list[bytes] = []  # output waiting for durability
        self._holding = False
        self._closing = False
        self._paused_read = False
        self._paused_write = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses but offer its methods.
        self.transport = cast(asyncio.Transport, transport)
        peer = self.transport.get_extra_info("peername")
        self.session.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self.transport = None

    def pause_writing(self) -> None:
        self._paused_write = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._paused_write = False
        self._update_reading()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        out = self._held
        handler = self._server.handler
        try:
            commands = self.parser.feed(data)
        except ProtocolError as exc:
            commands = exc.commands
            self._closing = True
            error_reply = enc.error(f"ERR {exc}")
        else:
            error_reply = b""
        for args in commands:
            if args[0].upper() == b"QUIT":
                out.append(enc.OK)
                self._closing = True
                break
            try:
                out.append(handler.execute(args, self.session))
            except Exception:
                logger.exception("RESP command %r failed", args[:1])
                out.append(enc.error("ERR internal error"))
        if error_reply:
            out.append(error_reply)
        self._flush()

    def _flush(self) -> None:
        if self._holding or self.transport is None:
            return
        handler = self._server.handler
        position = handler.barrier()
        if position > handler.durable():
            self._holding = True
            fut = handler.when_durable(position)
            fut.add_done_callback(self._durable_done)
            self._update_reading()
            return
        self._write_out()

    def _durable_done(self, fut: asyncio.Future[None]) -> None:
        self._holding = False
        if fut.cancelled() or fut.exception() is not None:
            # The log failed: what we hold may not be durable; never acknowledge it.
            self._held = [enc.error("ERR durable log failed; write outcome unknown")]
            self._closing = True
            self._write_out()
            return
        self._flush()
        self._update_reading()

    def _write_out(self) -> None:
        transport = self.transport
        if transport is None:
            return
        if self._held:
            transport.write(b"".join(self._held) if len(self._held) > 1 else self._held[0])
            self._held = []
        if self._closing:
            transport.close()

    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        held = sum(len(b) for b in self._held) if self._holding else 0
        want_pause = self._paused_write or held > _HOLD_LIMIT
        if want_pause and not self._paused_read:
            self._paused_read = True
            transport.pause_reading()
        elif not want_pause and self._paused_read:
            self._paused_read = False
            transport.resume_reading()


class RespServer:
    """Serves RESP2 on one address for one handler."""

    def __init__(self, handler: CommandHandler, *, max_bulk: int = DEFAULT_MAX_BULK) -> None:
        self.handler = handler
        self.max_bulk = max_bulk
        self.connections: set[_Conn] = set()
        self._server: asyncio.Server | None = None
        self._next_id = 0
        self.address: tuple[str, int] | None = None

    def _make(self) -> _Conn:
        self._next_id += 1
        return _Conn(self, Session(self._next_id))

    async def start(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._make, host, port, reuse_address=True)
        name = self._server.sockets[0].getsockname()
        self.address = (str(name[0]), int(name[1]))
        logger.info("serving RESP on %s:%d", *self.address)
        return self.address

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1.0)
        self._server = None
