"""Messages larger than one frame over real loopback transports (fragmentation)."""

from __future__ import annotations

import asyncio

from tests.runtime.test_transport import FAST, Node, close_all, cluster, run, wait_until

from senate.runtime.transport import Overflow, TransportConfig
from senate.wire.frame import DEFAULT_MAX_FRAME_SIZE
from senate.wire.probe import Probe

MIB = 1024 * 1024


def test_a_70_mib_message_crosses_two_real_transports_between_small_ones() -> None:
    """Over the 64 MiB frame limit with the default config: fragmented and reassembled."""
    blob = bytes(range(256)) * (70 * MIB // 256)

    async def main() -> None:
        nodes = await cluster("a", "b")
        a, b = nodes["a"], nodes["b"]
        try:
            a.t.send(Probe("a", "b", 1))
            a.t.send(Probe("a", "b", 2, blob))
            a.t.send(Probe("a", "b", 3))
            await wait_until(lambda: len(b.inbox) == 3, "the three probes", timeout=20.0)
            got = b.probes()
            assert [p.seq for p in got] == [1, 2, 3]
            assert got[1].data == blob
            counts = a.t.counters()
            assert (counts.sent, counts.dropped, counts.encode_errors) == (3, 0, 0)
            assert b.t.counters().malformed == 0
        finally:
            await close_all(nodes)

    run(main(), timeout=30.0)


def test_small_frame_limit_fragments_and_over_message_limit_is_an_encode_error() -> None:
    config = TransportConfig(
        cluster_id="test",
        max_frame_size=4096,
        fragment_size=1000,
        max_message_size=64 * 1024,
        backoff_initial=0.01,
        backoff_max=0.1,
    )

    async def main() -> None:
        nodes = await cluster("a", "b", config=config)
        a, b = nodes["a"], nodes["b"]
        try:
            payloads = [b"p" * n for n in (10, 5000, 60_000, 100)]
            for seq, data in enumerate(payloads):
                a.t.send(Probe("a", "b", seq, data))
            a.t.send(Probe("a", "b", 99, b"x" * 70_000))  # over max_message_size
            assert a.t.counters().encode_errors == 1
            await wait_until(lambda: len(b.inbox) == 4, "the fitting probes")
            assert [p.data for p in b.probes()] == payloads
            assert b.t.counters().malformed == 0
        finally:
            await close_all(nodes)

    run(main())


def test_a_receiver_with_a_smaller_message_limit_closes_the_connection() -> None:
    big = TransportConfig(
        cluster_id="test", max_frame_size=4096, backoff_initial=0.01, backoff_max=0.1
    )
    small = TransportConfig(
        cluster_id="test",
        max_frame_size=4096,
        max_message_size=8192,
        backoff_initial=0.01,
        backoff_max=0.1,
    )

    async def main() -> None:
        a, b = Node("a", big), Node("b", small)
        nodes = {"a": a, "b": b}
        for n in nodes.values():
            await n.t.start()
        addrs = {i: n.addr for i, n in nodes.items()}
        for n in nodes.values():
            n.t.update_peers(addrs)
        try:
            a.t.send(Probe("a", "b", 1, b"x" * 20_000))
            await wait_until(lambda: b.t.counters().malformed == 1, "the refusal")
            a.t.send(Probe("a", "b", 2))  # a fresh connection works
            await wait_until(lambda: [p.seq for p in b.probes()] == [2], "the next probe")
        finally:
            await close_all(nodes)

    run(main())


def test_queued_big_message_is_one_unit_and_not_evicted_by_small_ones() -> None:
    """A message over queue_bytes waits whole; small ones behind it do not evict it,
    and a second big one replaces it (drop-oldest). Nothing is written meanwhile."""
    config = TransportConfig(
        cluster_id="test",
        max_frame_size=4096,
        fragment_size=1024,
        queue_bytes=16 * 1024,
        overflow=Overflow.DROP_OLDEST,
        backoff_initial=0.01,
        backoff_max=0.1,
    )

    async def main() -> None:
        nodes = await cluster("a", "b", config=config)
        a, b = nodes["a"], nodes["b"]
        try:
            # All sent in one loop turn: the writer task has not run yet.
            a.t.send(Probe("a", "b", 1, b"1" * 50_000))
            for seq in range(10, 15):
                a.t.send(Probe("a", "b", seq, b"s" * 1000))
            assert a.t.queue_length("b") == 6
            a.t.send(Probe("a", "b", 2, b"2" * 50_000))  # evicts the first big one
            assert a.t.peer_counters("b").dropped == 1
            assert a.t.queue_length("b") == 6
            await wait_until(lambda: len(b.inbox) == 6, "the queued probes")
            assert [p.seq for p in b.probes()] == [10, 11, 12, 13, 14, 2]
            assert b.probes()[-1].data == b"2" * 50_000
            assert a.t.queue_length("b") == 0
        finally:
            await close_all(nodes)

    run(main())


def test_default_queue_bytes_still_bounds_ordinary_messages() -> None:
    assert FAST.queue_bytes == 2 * DEFAULT_MAX_FRAME_SIZE

    async def main() -> None:
        config = TransportConfig(cluster_id="test", queue_bytes=10_000, queue_limit=1000)
        a = Node("a", config, peers={"b": ("127.0.0.1", 9)})  # never dialed: not started
        for seq in range(100):
            a.t.send(Probe("a", "b", seq, b"x" * 500))
        assert a.t.queue_length("b") < 20
        assert a.t.peer_counters("b").dropped > 80
        await asyncio.sleep(0)

    run(main())
