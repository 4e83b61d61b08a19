"""The TCP peer transport on real loopback sockets (ephemeral ports only)."""

from __future__ import annotations

import asyncio
import importlib.util
import random
import socket
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import pytest

from senate.consensus.types import Message
from senate.runtime.transport import Overflow, Transport, TransportConfig, install_uvloop
from senate.wire.codec import Codec, Hello
from senate.wire.frame import encode_frame
from senate.wire.probe import PROBE, Probe, register_probe

CODEC = Codec()
register_probe(CODEC)
LOOPBACK = "127.0.0.1"
FAST = TransportConfig(
    cluster_id="test",
    backoff_initial=0.01,
    backoff_max=0.1,
    connect_timeout=1.0,
    handshake_timeout=1.0,
)


def run(coro: Coroutine[Any, Any, None], timeout: float = 10.0) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(timeout):
            await coro

    asyncio.run(bounded())


async def wait_until(pred: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


class Node:
    """A transport plus the inbox its on_message fills."""

    def __init__(
        self,
        node_id: str,
        config: TransportConfig = FAST,
        peers: Mapping[str, tuple[str, int]] | None = None,
        port: int = 0,
    ) -> None:
        self.inbox: list[Message] = []
        self.t = Transport(
            node_id,
            (LOOPBACK, port),
            peers or {},
            self.inbox.append,
            kind=PROBE,
            codec=CODEC,
            config=config,
            rng=random.Random(node_id),
        )

    def probes(self, src: str | None = None) -> list[Probe]:
        return [m for m in self.inbox if isinstance(m, Probe) and src in (None, m.src)]

    @property
    def addr(self) -> tuple[str, int]:
        assert self.t.address is not None
        return self.t.address


async def cluster(*ids: str, config: TransportConfig = FAST) -> dict[str, Node]:
    nodes = {i: Node(i, config) for i in ids}
    for n in nodes.values():
        await n.t.start()
    addrs = {i: n.addr for i, n in nodes.items()}
    for n in nodes.values():
        n.t.update_peers(addrs)
    return nodes


async def close_all(nodes: Mapping[str, Node]) -> None:
    await asyncio.gather(*(n.t.close() for n in nodes.values()))


def held_port() -> socket.socket:
    """A bound, non-listening socket: its port refuses connections until released."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((LOOPBACK, 0))
    return s


async def raw_connect(addr: tuple[str, int]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*addr)


async def closed_by_peer(reader: asyncio.StreamReader, timeout: float = 3.0) -> bool:
    """True once the other end closed (EOF or reset), reading and discarding what comes."""
    try:
        async with asyncio.timeout(timeout):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


def scenario(fn: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    def test() -> None:
        async def main() -> None:
            await fn()

        run(main())

    test.__name__ = fn.__name__
    test.__doc__ = fn.__doc__
    return test


@scenario
async def test_three_nodes_exchange_messages_in_order() -> None:
    nodes = await cluster("a", "b", "c")
    try:
        for seq in range(50):
            for src, node in nodes.items():
                for dst in nodes:
                    if dst != src:
                        node.t.send(Probe(src, dst, seq, b"x" * seq))
        await wait_until(lambda: all(len(n.inbox) == 100 for n in nodes.values()), "all probes")
        for dst, node in nodes.items():
            for src in nodes:
                if src != dst:
                    got = node.probes(src)
                    assert [p.seq for p in got] == list(range(50))  # one connection: FIFO
                    assert all(p.dst == dst and p.data == b"x" * p.seq for p in got)
        for node in nodes.values():
            c = node.t.counters()
            assert (c.sent, c.received, c.dropped, c.malformed) == (100, 100, 0, 0)
    finally:
        await close_all(nodes)


@scenario
async def test_reconnects_after_the_peer_restarts() -> None:
    nodes = await cluster("a", "b")
    a, b = nodes["a"], nodes["b"]
    b_addr = b.addr
    restarted: Node | None = None
    try:
        a.t.send(Probe("a", "b", 0))
        await wait_until(lambda: len(b.inbox) == 1, "first probe")
        await b.t.close()
        restarted = Node("b", peers={"a": a.addr}, port=b_addr[1])
        await restarted.t.start()
        seq = 1
        # Probes written into the dead connection before a notices are lost; keep
        # sending until the restarted b hears one.
        while not restarted.inbox:
            a.t.send(Probe("a", "b", seq))
            seq += 1
            await asyncio.sleep(0.02)
            assert seq < 250, "a never reached the restarted b"
        assert a.t.peer_counters("b").reconnects >= 1
        assert not a.t.counters().malformed
    finally:
        await a.t.close()
        if restarted is not None:
            await restarted.t.close()


@scenario
async def test_garbage_closes_only_that_connection() -> None:
    nodes = await cluster("a", "b")
    a, b = nodes["a"], nodes["b"]
    try:
        # 1. Not our protocol at all.
        reader, writer = await raw_connect(a.addr)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await closed_by_peer(reader), "a kept a garbage connection open"
        writer.close()
        # 2. A proper handshake as "b", then a frame with a broken CRC.
        reader, writer = await raw_connect(a.addr)
        writer.write(encode_frame(Hello("test", "b").to_wire()))
        bad = bytearray(encode_frame(CODEC.encode_message(PROBE, Probe("b", "a", 1))))
        bad[-1] ^= 0xFF
        writer.write(bytes(bad))
        assert await closed_by_peer(reader), "a kept a connection with a bad CRC open"
        writer.close()
        # 3. A valid frame whose message claims to come from someone else.
        reader, writer = await raw_connect(a.addr)
        writer.write(encode_frame(Hello("test", "b").to_wire()))
        writer.write(encode_frame(CODEC.encode_message(PROBE, Probe("c", "a", 1))))
        assert await closed_by_peer(reader), "a accepted a spoofed src"
        writer.close()
        assert a.t.counters().malformed == 3
        assert a.inbox == []
        # The real peer is unaffected.
        b.t.send(Probe("b", "a", 7))
        await wait_until(lambda: len(a.inbox) == 1, "b's probe after the garbage")
        assert a.probes()[0].seq == 7
    finally:
        await close_all(nodes)


@scenario
async def test_silent_connection_is_dropped_after_the_handshake_timeout() -> None:
    config = TransportConfig(cluster_id="test", handshake_timeout=0.2)
    nodes = await cluster("a", config=config)
    try:
        reader, writer = await raw_connect(nodes["a"].addr)
        assert await closed_by_peer(reader, timeout=3.0)
        writer.close()
    finally:
        await close_all(nodes)


@pytest.mark.parametrize("overflow", list(Overflow))
def test_bounded_queue_drops_while_the_peer_is_down(overflow: Overflow) -> None:
    config = TransportConfig(
        cluster_id="test", queue_limit=10, overflow=overflow, backoff_initial=0.01, backoff_max=0.05
    )

    async def main() -> None:
        hold = held_port()
        b_addr = hold.getsockname()
        a = Node("a", config, peers={"b": b_addr})
        await a.t.start()
        b: Node | None = None
        try:
            for seq in range(100):
                a.t.send(Probe("a", "b", seq))
            assert a.t.queue_length("b") == 10
            assert a.t.peer_counters("b").dropped == 90
            await wait_until(lambda: a.t.peer_counters("b").connect_failures >= 2, "dial retries")
            hold.close()
            b = Node("b", config, peers={"a": a.addr}, port=b_addr[1])
            await b.t.start()
            await wait_until(lambda: len(b.inbox) == 10, "the queued probes")
            want = range(90, 100) if overflow is Overflow.DROP_OLDEST else range(10)
            assert [p.seq for p in b.probes()] == list(want)
            assert a.t.counters().sent == 10
        finally:
            hold.close()
            await a.t.close()
            if b is not None:
                await b.t.close()

    run(main())


@scenario
async def test_handshake_rejects_a_wrong_cluster_id() -> None:
    x = Node("a", TransportConfig(cluster_id="x", backoff_initial=0.01, backoff_max=0.05))
    y = Node("b", TransportConfig(cluster_id="y", backoff_initial=0.01, backoff_max=0.05))
    await x.t.start()
    await y.t.start()
    try:
        x.t.update_peers({"b": y.addr})
        y.t.update_peers({"a": x.addr})
        x.t.send(Probe("a", "b", 1))
        await wait_until(lambda: y.t.counters().rejected >= 2, "repeated rejections")
        assert x.t.peer_counters("b").connect_failures >= 2
        assert x.t.peer_counters("b").sent == 0
        assert y.inbox == []
    finally:
        await x.t.close()
        await y.t.close()


@scenario
async def test_handshake_rejects_an_unknown_node_and_a_wrong_identity() -> None:
    nodes = await cluster("a", "b", "c")
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    try:
        # b forgets a: a is now a stranger to b.
        b.t.update_peers({"c": c.addr})
        a.t.send(Probe("a", "b", 1))
        await wait_until(lambda: b.t.counters().rejected >= 1, "b refusing a")
        # c believes b lives at a's address: a answers as "a" and c must not send.
        c.t.update_peers({"a": a.addr, "b": a.addr})
        c.t.send(Probe("c", "b", 2))
        await wait_until(lambda: c.t.peer_counters("b").connect_failures >= 1, "c noticing")
        assert b.inbox == [] and a.inbox == []
        # Fix c's view: now it reaches the real b, with the probe it held back.
        c.t.update_peers({"a": a.addr, "b": b.addr})
        c.t.send(Probe("c", "b", 3))
        await wait_until(lambda: [p.seq for p in b.probes()] == [2, 3], "c reaching b")
    finally:
        await close_all(nodes)


@scenario
async def test_removed_peer_is_unroutable_and_callback_errors_are_contained() -> None:
    nodes = await cluster("a", "b")
    a, b = nodes["a"], nodes["b"]
    calls: list[int] = []

    def flaky(msg: Message) -> None:
        assert isinstance(msg, Probe)
        calls.append(msg.seq)
        if msg.seq == 1:
            raise RuntimeError("bug in the node")

    b.t._on_message = flaky
    try:
        for seq in (1, 2):
            a.t.send(Probe("a", "b", seq))
        await wait_until(lambda: calls == [1, 2], "both probes despite the failing callback")
        assert b.t.counters().callback_errors == 1
        a.t.update_peers({})
        a.t.send(Probe("a", "b", 3))
        assert a.t.counters().unroutable == 1
        assert a.t.peers == {}
    finally:
        await close_all(nodes)


@scenario
async def test_unsendable_messages_are_counted_not_raised() -> None:
    config = TransportConfig(cluster_id="test", max_frame_size=1024, max_message_size=1536)
    nodes = await cluster("a", "b", config=config)
    a, b = nodes["a"], nodes["b"]
    try:
        a.t.send(Probe("a", "b", 1, b"x" * 2048))  # larger than a message may be
        a.t.send(Probe("a", "b", 2), kind="unregistered")
        assert a.t.counters().encode_errors == 2
        assert a.t.queue_length("b") == 0
        a.t.send(Probe("a", "b", 3))
        await wait_until(lambda: [p.seq for p in b.probes()] == [3], "a valid probe after")
    finally:
        await close_all(nodes)


def test_install_uvloop_only_when_it_is_installed() -> None:
    before = asyncio.get_event_loop_policy()
    installed = install_uvloop()
    try:
        assert installed == (importlib.util.find_spec("uvloop") is not None)
        if not installed:
            assert asyncio.get_event_loop_policy() is before
    finally:
        asyncio.set_event_loop_policy(before)
