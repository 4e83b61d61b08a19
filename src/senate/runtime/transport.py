"""The asyncio TCP peer transport: engine messages between the nodes of a cluster.

Theory of operation:
- Each node listens on its peer address and dials each peer lazily, on the first
  message for it. Connections are one-way: a node writes only on the connection it
  dialed and reads only on connections it accepted (as etcd's streams do). So there
  is exactly one outbound connection per peer and no dial race to arbitrate.
- A connection opens with a handshake (codec.Hello): the dialer says who it is; the
  acceptor checks the cluster id, the protocol version and that the dialer is a
  known member, then answers with its own Hello (the dialer checks it reached the
  node it meant) or a Reject with a reason, and closes.
- Frames are frame.py's (magic, version, length, CRC32, msgpack). A malformed frame,
  a bad envelope or a message whose src/dst do not match the handshake closes that
  one connection, logged on one line; the node and its other connections go on.
- A message bigger than max_frame_size (a Raft snapshot of a large state, a CRDT
  store's whole state) goes as fragment frames (frame.encode_frames), up to
  max_message_size; the receiver reassembles it per connection (FrameDecoder). Small
  messages are the same single frame as always.
- send() never blocks and never raises for network trouble: the consensus driver must
  not stall on a slow or dead peer. Each peer has a bounded queue (messages and
  bytes). When it is full the policy drops the oldest message (default: for Raft a
  fresher append or heartbeat is worth more than a stale one) or the new one, and
  counts the drop. Raft and the other engines retransmit, so loss is safe.
  A queue entry is a whole message (all its fragments): it is queued, dropped and
  written as a unit, so the stream never carries a partial fragment sequence.
  queue_bytes bounds the ordinary messages; a message larger than queue_bytes
  (which could never fit) is still accepted and not charged against it, but at
  most one such message waits per peer: a second one evicts it (drop-oldest) or is
  refused (drop-new). So a big snapshot is not evicted by the heartbeats queued
  behind it, and the memory held is at most queue_bytes plus one message.
- A writer task per peer takes everything queued (up to batch_bytes, and always at
  least one whole message), writes it and drains once per batch_bytes written;
  TCP's flow control thus pushes back into the queue, where the overflow policy
  applies. If connecting fails it retries with exponential backoff and jitter
  drawn from the injected rng.
- An optional FaultRules (faults.py) is consulted on send and on receive.

Everything runs on one event loop; send() and update_peers() must be called from it.
uvloop works when the runtime entry installs it (install_uvloop()); nothing here
needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import random
import socket
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from senate.consensus.types import Message
from senate.errors import MalformedInput
from senate.runtime.faults import FaultRules
from senate.wire.codec import (
    MAX_ID_LEN,
    Codec,
    Hello,
    Reject,
    answer_problem,
    decode_handshake,
    default_codec,
    refusal,
)
from senate.wire.frame import (
    DEFAULT_FRAGMENT_SIZE,
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE,
    FrameDecoder,
    encode_frame,
    encode_frames,
)

logger = logging.getLogger("senate.transport")

Addr = tuple[str, int]
_HANDSHAKE_MAX_FRAME = 64 * 1024  # a hello is tiny; do not buffer more for a stranger

# One queued message: its single frame, or its fragment frames in order.
_Item = bytes | tuple[bytes, ...]


class Overflow(enum.Enum):
    """What a full per-peer send queue does with one more message."""

    DROP_OLDEST = "drop-oldest"
    DROP_NEW = "drop-new"


@dataclass(slots=True, frozen=True)
class TransportConfig:
    cluster_id: str = "senate"
    queue_limit: int = 4096  # messages per peer
    queue_bytes: int = 2 * DEFAULT_MAX_FRAME_SIZE  # bytes per peer (room for one snapshot)
    overflow: Overflow = Overflow.DROP_OLDEST
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE  # reassembled from fragments
    fragment_size: int = DEFAULT_FRAGMENT_SIZE  # payload bytes per fragment frame
    batch_bytes: int = 1024 * 1024  # written before one drain
    read_size: int = 256 * 1024
    connect_timeout: float = 2.0
    handshake_timeout: float = 2.0
    backoff_initial: float = 0.05
    backoff_max: float = 2.0


_DEFAULT = TransportConfig()


@dataclass(slots=True)
class PeerCounters:
    sent: int = 0  # messages written and drained into a connection
    dropped: int = 0  # refused or evicted by a full queue
    lost: int = 0  # in a batch whose write failed, or queued when the peer was removed
    reconnects: int = 0  # connections established after the first one
    connect_failures: int = 0  # failed dials and failed or refused handshakes
    received: int = 0  # delivered to on_message


@dataclass(slots=True)
class TransportCounters(PeerCounters):
    malformed: int = 0  # inbound connections closed for bad frames or messages
    rejected: int = 0  # inbound handshakes refused
    unroutable: int = 0  # send() to a node that is not a peer
    encode_errors: int = 0  # messages that could not be encoded (a bug upstream)
    callback_errors: int = 0  # on_message raised


class _Conn:
    """One outbound connection after a successful handshake."""

    __slots__ = ("dead", "monitor", "writer")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.dead = False
        self.monitor: asyncio.Task[None] | None = None

    def close(self) -> None:
        self.dead = True
        if self.monitor is not None and self.monitor is not asyncio.current_task():
            self.monitor.cancel()
        self.writer.close()


class _Peer:
    __slots__ = (
        "addr",
        "conn",
        "counters",
        "dropping",
        "ever_connected",
        "failures",
        "id",
        "oversized",
        "queue",
        "queued_bytes",
        "task",
        "wake",
    )

    def __init__(self, peer_id: str, addr: Addr) -> None:
        self.id = peer_id
        self.addr = addr
        self.queue: deque[_Item] = deque()
        self.queued_bytes = 0  # charged bytes (messages up to queue_bytes)
        self.oversized = 0  # queued messages bigger than queue_bytes (0 or 1)
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.conn: _Conn | None = None
        self.counters = PeerCounters()
        self.failures = 0  # consecutive failed connection attempts
        self.ever_connected = False
        self.dropping = False  # in an overflow episode (logged once per episode)


class Transport:
    """Peer-to-peer message transport of one node. See the module docstring."""

    def __init__(
        self,
        node_id: str,
        listen_addr: Addr,
        peers: Mapping[str, Addr],
        on_message: Callable[[Message], None],
        *,
        kind: str,
        codec: Codec = default_codec,
        config: TransportConfig | None = None,
        rng: random.Random | None = None,
        faults: FaultRules | None = None,
    ) -> None:
        self.config = config or _DEFAULT
        for what, value in (("node id", node_id), ("cluster id", self.config.cluster_id)):
            if not value or len(value) > MAX_ID_LEN:
                raise ValueError(f"{what} must be 1..{MAX_ID_LEN} characters, got {value!r}")
        self.node_id = node_id
        self.kind = kind  # the envelope kind of messages sent without an explicit one
        self.codec = codec
        self.faults = faults
        self._listen = listen_addr
        self._on_message = on_message
        self._rng = rng if rng is not None else random.Random()
        self._peers: dict[str, _Peer] = {}
        self._retired = PeerCounters()  # counts of peers since removed
        self._extra = TransportCounters()
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbound: dict[asyncio.Task[None], str | None] = {}  # handler -> peer id
        self._inbound_writers: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._stopping: set[asyncio.Task[None]] = set()  # tasks of removed peers
        self._closed = False
        self.address: Addr | None = None  # the bound address, known after start()
        for peer_id, addr in peers.items():
            if peer_id != node_id:
                self._peers[peer_id] = _Peer(peer_id, addr)

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on the peer address and start one writer task per peer."""
        self._loop = asyncio.get_running_loop()
        host, port = self._listen
        self._server = await asyncio.start_server(
            self._handle_inbound, host, port, limit=self.config.read_size
        )
        sockname = self._server.sockets[0].getsockname()
        self.address = (str(sockname[0]), int(sockname[1]))
        for peer in self._peers.values():
            self._start_peer(peer)
        logger.info("node %s listening for peers on %s:%d", self.node_id, *self.address)

    async def close(self) -> None:
        """Stop listening, close every connection and stop every task."""
        if self._closed:
            return
        self._closed = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        if self._server is not None:
            self._server.close()
        tasks: list[asyncio.Task[None]] = list(self._stopping)
        for peer in self._peers.values():
            tasks.extend(self._stop_peer(peer))
        inbound = list(self._inbound_writers.items())
        for _task, writer in inbound:
            writer.close()  # the handler sees EOF and returns
        await asyncio.gather(*tasks, return_exceptions=True)
        if inbound:
            # Not cancelled: asyncio (3.11) logs an error for a cancelled handler task.
            _done, pending = await asyncio.wait([t for t, _ in inbound], timeout=1.0)
            for task in pending:
                task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    def update_peers(self, peers: Mapping[str, Addr]) -> None:
        """Make `peers` the peer set (membership changed). Removed peers lose their
        queues and connections; a peer whose address changed reconnects there."""
        wanted = {pid: addr for pid, addr in peers.items() if pid != self.node_id}
        for peer_id in list(self._peers):
            if peer_id not in wanted:
                gone = self._peers.pop(peer_id)
                gone.counters.lost += len(gone.queue)
                for task in self._stop_peer(gone):
                    self._stopping.add(task)
                    task.add_done_callback(self._stopping.discard)
                self._close_inbound_from(peer_id)
                _add(self._retired, gone.counters)
                logger.info("node %s: peer %s removed", self.node_id, peer_id)
        for peer_id, addr in wanted.items():
            peer = self._peers.get(peer_id)
            if peer is None:
                new = self._peers[peer_id] = _Peer(peer_id, addr)
                if self._loop is not None and not self._closed:
                    self._start_peer(new)
                logger.info("node %s: peer %s added at %s:%d", self.node_id, peer_id, *addr)
            elif peer.addr != addr:
                peer.addr = addr
                peer.failures = 0
                if peer.conn is not None:
                    peer.conn.close()  # the writer reconnects to the new address
                peer.wake.set()
                logger.info("node %s: peer %s moved to %s:%d", self.node_id, peer_id, *addr)

    @property
    def peers(self) -> dict[str, Addr]:
        return {pid: peer.addr for pid, peer in self._peers.items()}

    # -- sending ---------------------------------------------------------------------

    def send(self, msg: Message, kind: str | None = None) -> None:
        """Queue `msg` for msg.dst. Never blocks; loss is counted, not raised."""
        if self._closed:
            return
        peer = self._peers.get(msg.dst)
        if peer is None:
            self._extra.unroutable += 1
            logger.debug("node %s: no peer %r to send to", self.node_id, msg.dst)
            return
        try:
            envelope = self.codec.encode_message(kind or self.kind, msg)
            frames = encode_frames(
                envelope,
                self.config.max_frame_size,
                max_message_size=self.config.max_message_size,
                fragment_size=self.config.fragment_size,
            )
        except MalformedInput as exc:
            self._extra.encode_errors += 1
            logger.error(
                "node %s: cannot send %s to %s: %s", self.node_id, type(msg).__name__, msg.dst, exc
            )
            return
        item: _Item = frames[0] if len(frames) == 1 else tuple(frames)
        if self.faults is not None:
            verdict = self.faults.on_send(self.node_id, peer.id)
            if not verdict.deliver:
                return
            if verdict.delay > 0.0:
                self._enqueue_later(verdict.delay, peer.id, item)
                return
        self._enqueue(peer, item)

    def _enqueue_later(self, delay: float, peer_id: str, item: _Item) -> None:
        loop = self._loop or asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            peer = self._peers.get(peer_id)
            if peer is not None and not self._closed:
                self._enqueue(peer, item)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def _charge(self, item: _Item) -> int:
        """Bytes `item` counts against queue_bytes: 0 for an oversized message."""
        size = _size(item)
        return size if size <= self.config.queue_bytes else 0

    def _dequeue(self, peer: _Peer) -> _Item:
        item = peer.queue.popleft()
        charge = self._charge(item)
        peer.queued_bytes -= charge
        if charge == 0:
            peer.oversized -= 1
        return item

    def _enqueue(self, peer: _Peer, item: _Item) -> None:
        cfg = self.config
        queue = peer.queue
        charge = self._charge(item)
        oversized = charge == 0
        while queue and (
            len(queue) >= cfg.queue_limit
            or peer.queued_bytes + charge > cfg.queue_bytes
            or (oversized and peer.oversized)
        ):
            if not peer.dropping:
                peer.dropping = True
                what = f"{len(queue)} messages, {peer.queued_bytes} bytes; {cfg.overflow.value}"
                logger.warning("node %s: send queue to %s full (%s)", self.node_id, peer.id, what)
            peer.counters.dropped += 1
            if cfg.overflow is Overflow.DROP_NEW:
                return
            self._dequeue(peer)
        queue.append(item)
        peer.queued_bytes += charge
        peer.oversized += oversized
        peer.wake.set()

    def _start_peer(self, peer: _Peer) -> None:
        peer.task = asyncio.get_running_loop().create_task(
            self._run_peer(peer), name=f"senate-send-{self.node_id}-{peer.id}"
        )

    def _stop_peer(self, peer: _Peer) -> list[asyncio.Task[None]]:
        tasks: list[asyncio.Task[None]] = []
        if peer.conn is not None:
            if peer.conn.monitor is not None:
                tasks.append(peer.conn.monitor)
            peer.conn.close()
            peer.conn = None
        if peer.task is not None:
            peer.task.cancel()
            tasks.append(peer.task)
            peer.task = None
        return tasks

    async def _run_peer(self, peer: _Peer) -> None:
        """The writer of one peer. It must outlive any error: a writer task that ended
        would cut the link to this peer for good, silently (its queue only drops)."""
        while True:
            try:
                await self._pump(peer)
            except Exception:
                logger.exception(
                    "node %s: writer to %s failed; restarting it", self.node_id, peer.id
                )
                if peer.conn is not None:
                    peer.conn.close()
                    peer.conn = None
                await asyncio.sleep(self._backoff(1))

    async def _pump(self, peer: _Peer) -> None:
        """Connect when there is work, write in batches (returns only by raising)."""
        while True:
            if not peer.queue:
                peer.dropping = False
                peer.wake.clear()
                await peer.wake.wait()
                continue
            if peer.conn is None or peer.conn.dead or peer.conn.writer.is_closing():
                if peer.conn is not None:
                    peer.conn.close()
                    peer.conn = None
                peer.conn = await self._connect(peer)
                if peer.conn is None:
                    await asyncio.sleep(self._backoff(peer.failures))
                    continue
            batch = self._take_batch(peer)
            try:
                await self._write(peer.conn.writer, batch)
            except (ConnectionError, OSError, RuntimeError) as exc:
                # RuntimeError: uvloop refuses to write on a transport it closed on a
                # reset before _watch ran; uncaught, it ended this task and the link.
                peer.counters.lost += len(batch)
                logger.warning(
                    "node %s: connection to %s failed while sending: %s", self.node_id, peer.id, exc
                )
                peer.conn.close()
                peer.conn = None
                continue
            peer.counters.sent += len(batch)

    def _take_batch(self, peer: _Peer) -> list[_Item]:
        """Whole messages from the head of the queue: the first, then while they fit."""
        first = self._dequeue(peer)
        batch = [first]
        size = _size(first)
        while peer.queue and size + _size(peer.queue[0]) <= self.config.batch_bytes:
            item = self._dequeue(peer)
            batch.append(item)
            size += _size(item)
        return batch

    async def _write(self, writer: asyncio.StreamWriter, batch: list[_Item]) -> None:
        """Write a batch's frames in order, draining every batch_bytes (and at the end),
        so a fragmented message never sits whole in the socket's write buffer."""
        if len(batch) == 1 and isinstance(batch[0], tuple):
            pending: list[bytes] = []
            size = 0
            for frame in batch[0]:
                pending.append(frame)
                size += len(frame)
                if size >= self.config.batch_bytes:
                    writer.writelines(pending)
                    await writer.drain()
                    pending, size = [], 0
            if pending:
                writer.writelines(pending)
                await writer.drain()
            return
        # Ordinary batches (at most batch_bytes, or one message) in one write.
        writer.writelines(
            [frame for item in batch for frame in ((item,) if isinstance(item, bytes) else item)]
        )
        await writer.drain()

    def _backoff(self, failures: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half drawn from the rng."""
        cfg = self.config
        ceiling = min(cfg.backoff_max, cfg.backoff_initial * 2.0 ** min(max(failures - 1, 0), 30))
        return ceiling / 2 + self._rng.uniform(0.0, ceiling / 2)

    async def _connect(self, peer: _Peer) -> _Conn | None:
        """Dial `peer` and run the handshake; None (counted and logged) on failure."""
        host, port = peer.addr
        where = f"{host}:{port}"
        cfg = self.config
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(cfg.connect_timeout):
                reader, writer = await asyncio.open_connection(host, port, limit=cfg.read_size)
            _set_nodelay(writer)
            writer.write(encode_frame(Hello(cfg.cluster_id, self.node_id).to_wire()))
            decoder = FrameDecoder(_HANDSHAKE_MAX_FRAME, _HANDSHAKE_MAX_FRAME)
            async with asyncio.timeout(cfg.handshake_timeout):
                await writer.drain()
                reply = await _read_frames(reader, decoder, cfg.read_size)
            if len(reply) != 1:
                raise MalformedInput("peer sent more than its handshake before we spoke")
            answer = decode_handshake(reply[0])
            problem = answer_problem(answer, cluster_id=cfg.cluster_id, expected=peer.id)
        except (OSError, TimeoutError, MalformedInput, RuntimeError) as exc:
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except asyncio.CancelledError:
            if writer is not None:
                writer.close()
            raise
        if problem is not None:
            if writer is not None:
                writer.close()
            peer.failures += 1
            peer.counters.connect_failures += 1
            # One warning per outage; the retries after it are debug noise.
            log = logger.warning if peer.failures == 1 else logger.debug
            log("node %s: cannot connect to %s at %s: %s", self.node_id, peer.id, where, problem)
            return None
        assert writer is not None
        conn = _Conn(writer)
        conn.monitor = asyncio.get_running_loop().create_task(self._watch(peer, conn, reader))
        if peer.ever_connected:
            peer.counters.reconnects += 1
        peer.ever_connected = True
        peer.failures = 0
        logger.info("node %s: connected to %s at %s", self.node_id, peer.id, where)
        return conn

    async def _watch(self, peer: _Peer, conn: _Conn, reader: asyncio.StreamReader) -> None:
        """Notice at once when the peer closes our outbound connection (it restarted)."""
        try:
            data = await reader.read(1)
        except (ConnectionError, OSError):
            data = b""
        if data:
            logger.warning(
                "node %s: %s wrote on a send-only connection; closing", self.node_id, peer.id
            )
        conn.close()
        peer.wake.set()  # if messages wait, reconnect now rather than on the next send

    # -- receiving -------------------------------------------------------------------

    async def _handle_inbound(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        if self._closed:
            writer.close()
            return
        self._inbound[task] = None
        self._inbound_writers[task] = writer
        remote = _remote(writer)
        peer_id: str | None = None
        try:
            _set_nodelay(writer)
            # Fragments cannot reassemble past one handshake frame before the peer is known.
            decoder = FrameDecoder(_HANDSHAKE_MAX_FRAME, _HANDSHAKE_MAX_FRAME)
            async with asyncio.timeout(self.config.handshake_timeout):
                objs = await _read_frames(reader, decoder, self.config.read_size)
            hello = Hello.from_wire(objs[0])
            problem = refusal(
                hello, cluster_id=self.config.cluster_id, node_id=self.node_id, known=self._peers
            )
            if problem is not None:
                self._extra.rejected += 1
                logger.warning(
                    "node %s: refused peer connection from %s (%s): %s",
                    self.node_id,
                    remote,
                    hello.node_id,
                    problem,
                )
                writer.write(encode_frame(Reject(problem).to_wire()))
                with contextlib.suppress(ConnectionError, OSError, TimeoutError):
                    async with asyncio.timeout(self.config.handshake_timeout):
                        await writer.drain()
                return
            writer.write(encode_frame(Hello(self.config.cluster_id, self.node_id).to_wire()))
            await writer.drain()
            peer_id = hello.node_id
            # A peer that reconnects leaves its old connection behind; close that one.
            self._close_inbound_from(peer_id, keep=task)
            self._inbound[task] = peer_id
            logger.info("node %s: accepted connection from %s (%s)", self.node_id, peer_id, remote)
            decoder.max_frame_size = self.config.max_frame_size
            decoder.max_message_size = self.config.max_message_size
            for obj in objs[1:]:
                self._deliver(peer_id, obj)
            while not self._closed:
                data = await reader.read(self.config.read_size)
                if not data:
                    break
                for obj in decoder.feed(data):
                    self._deliver(peer_id, obj)
        except MalformedInput as exc:
            self._extra.malformed += 1
            logger.warning(
                "node %s: closing connection from %s (%s): malformed input: %s",
                self.node_id,
                peer_id or "unidentified peer",
                remote,
                exc,
            )
        except TimeoutError:
            logger.warning("node %s: no handshake from %s in time; closing", self.node_id, remote)
        except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
            logger.debug("node %s: connection from %s ended: %s", self.node_id, remote, exc)
        finally:
            self._inbound.pop(task, None)
            self._inbound_writers.pop(task, None)
            writer.close()

    def _close_inbound_from(self, peer_id: str, keep: asyncio.Task[None] | None = None) -> None:
        for task, owner in list(self._inbound.items()):
            if owner == peer_id and task is not keep:
                self._inbound_writers[task].close()

    def _deliver(self, peer_id: str, obj: object) -> None:
        msg = self.codec.decode_message(obj)
        if msg.src != peer_id:
            raise MalformedInput(f"message from {msg.src!r} on {peer_id!r}'s connection")
        if msg.dst != self.node_id:
            raise MalformedInput(f"message for {msg.dst!r} sent to {self.node_id!r}")
        if peer_id not in self._peers:
            return  # removed while its bytes were in flight
        if self.faults is not None and not self.faults.on_receive(peer_id, self.node_id):
            return
        self._peers[peer_id].counters.received += 1
        try:
            self._on_message(msg)
        except Exception:
            # The node's own bug, not the peer's: keep the connection, shout once.
            self._extra.callback_errors += 1
            logger.exception(
                "node %s: on_message failed for a message from %s", self.node_id, peer_id
            )

    # -- metrics ---------------------------------------------------------------------

    def counters(self) -> TransportCounters:
        """A snapshot of every counter, summed over peers (current and removed)."""
        total = dataclasses.replace(self._extra)
        for counts in [self._retired, *(p.counters for p in self._peers.values())]:
            _add(total, counts)
        return total

    def peer_counters(self, peer_id: str) -> PeerCounters:
        return dataclasses.replace(self._peers[peer_id].counters)

    def queue_length(self, peer_id: str) -> int:
        return len(self._peers[peer_id].queue)


def _size(item: _Item) -> int:
    return len(item) if isinstance(item, bytes) else sum(map(len, item))


def _add(into: PeerCounters, counts: PeerCounters) -> None:
    for f in dataclasses.fields(PeerCounters):
        setattr(into, f.name, getattr(into, f.name) + getattr(counts, f.name))


async def _read_frames(
    reader: asyncio.StreamReader, decoder: FrameDecoder, read_size: int
) -> list[object]:
    """Read until at least one whole frame arrived; EOF first is a ConnectionError."""
    while True:
        data = await reader.read(read_size)
        if not data:
            raise ConnectionResetError("connection closed during the handshake")
        objs = decoder.feed(data)
        if objs:
            return objs


def _set_nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _remote(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


def install_uvloop() -> bool:
    """Make uvloop the event loop policy if it is installed; for the runtime entry."""
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True
