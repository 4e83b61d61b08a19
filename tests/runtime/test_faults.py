"""Fault rules: unit behaviour, and partitions/loss/delay on real loopback transports."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from senate.consensus.types import Message
from senate.errors import MalformedInput
from senate.runtime.faults import DELIVER, DROP, FaultRules, LinkFault
from senate.runtime.transport import Transport, TransportConfig
from senate.wire.codec import Codec
from senate.wire.probe import PROBE, Probe, register_probe

CODEC = Codec()
register_probe(CODEC)
CONFIG = TransportConfig(cluster_id="test", backoff_initial=0.01, backoff_max=0.1)

# -- rules alone ------------------------------------------------------------------------


def test_partition_one_way_both_ways_and_heal() -> None:
    rules = FaultRules(random.Random(1))
    assert not rules.active
    rules.partition(["a"], ["b", "c"], one_way=True)
    assert rules.on_send("a", "b") is DROP and rules.on_send("b", "a") is DELIVER
    assert not rules.on_receive("a", "c") and rules.on_receive("c", "a")
    rules.heal()
    rules.isolate("a", ["b", "c"])
    assert rules.blocked_links() == {("a", "b"), ("b", "a"), ("a", "c"), ("c", "a")}
    rules.heal(["a"], ["b"])
    assert rules.blocked_links() == {("a", "c"), ("c", "a")}
    rules.unblock("c", "a")
    assert rules.blocked_links() == {("a", "c")}
    c = rules.counters
    assert (c.blocked_send, c.blocked_receive) == (1, 1)


def test_drop_probability_is_honoured_and_replays_from_the_seed() -> None:
    def run(seed: int) -> list[bool]:
        rules = FaultRules(random.Random(seed))
        rules.set_default(LinkFault(drop=0.3))
        return [rules.on_send("a", "b").deliver for _ in range(10_000)]

    first = run(42)
    assert first == run(42)
    assert first != run(43)
    dropped = first.count(False)
    assert 2700 < dropped < 3300  # 0.3 of 10k; binomial sd is ~46


def test_delay_jitter_and_per_link_override() -> None:
    rules = FaultRules(random.Random(7))
    rules.set_default(LinkFault(delay_ms=10, jitter_ms=5))
    rules.set_link("a", "c", LinkFault(drop=1.0))
    delays = [rules.on_send("a", "b").delay for _ in range(200)]
    assert all(0.010 <= d <= 0.015 for d in delays) and len(set(delays)) > 100
    assert rules.on_send("a", "c") is DROP
    rules.set_link("a", "c", None)
    assert rules.on_send("a", "c").delay >= 0.010
    rules.clear()
    assert rules.on_send("a", "b") is DELIVER and not rules.active


def test_bad_link_faults_are_refused() -> None:
    for bad in (
        {"drop": 1.5},
        {"delay_ms": -1},
        {"delay_ms": float("inf")},
        {"drop": float("nan")},
    ):
        with pytest.raises(ValueError):
            LinkFault(**bad)


def test_configure_and_describe_round_trip() -> None:
    spec: dict[str, object] = {
        "block": [["a", "b"], ["c", "a"]],
        "default": {"drop": 0.1, "delay_ms": 5.0, "jitter_ms": 1.0},
        "links": [{"src": "a", "dst": "c", "drop": 0.5, "delay_ms": 0.0, "jitter_ms": 0.0}],
    }
    rules = FaultRules()
    rules.configure(spec)
    assert rules.describe() == spec
    assert rules.blocked("a", "b") and not rules.blocked("b", "a")


@pytest.mark.parametrize(
    "spec",
    [
        [],
        {"partition": []},
        {"block": [["a"]]},
        {"block": "a,b"},
        {"block": [["a", 2]]},
        {"default": {"drop": 2}},
        {"default": {"drop": "0.1"}},
        {"default": {"loss": 0.1}},
        {"links": [{"src": "a", "dst": "b", "drop": True}]},
        {"links": [{"src": "a", "drop": 0.1}]},
    ],
)
def test_bad_specs_are_malformed_and_change_nothing(spec: object) -> None:
    rules = FaultRules()
    rules.block("x", "y")
    before = rules.describe()
    with pytest.raises(MalformedInput):
        rules.configure(spec)
    assert rules.describe() == before


# -- rules on real transports -------------------------------------------------------------


def run(coro_fn: Callable[[], Coroutine[Any, Any, None]], timeout: float = 10.0) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(timeout):
            await coro_fn()

    asyncio.run(bounded())


async def wait_until(pred: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


class Cluster:
    """Transports on loopback, each with its own FaultRules, as separate processes would."""

    def __init__(self, *ids: str) -> None:
        self.inbox: dict[str, list[Message]] = {i: [] for i in ids}
        self.rules = {i: FaultRules(random.Random(i)) for i in ids}
        self.t = {
            i: Transport(
                i,
                ("127.0.0.1", 0),
                {},
                self.inbox[i].append,
                kind=PROBE,
                codec=CODEC,
                config=CONFIG,
                rng=random.Random(i),
                faults=self.rules[i],
            )
            for i in ids
        }

    async def start(self) -> None:
        for t in self.t.values():
            await t.start()
        addrs = {i: t.address for i, t in self.t.items() if t.address is not None}
        for t in self.t.values():
            t.update_peers(addrs)

    async def close(self) -> None:
        await asyncio.gather(*(t.close() for t in self.t.values()))

    def send(self, src: str, dst: str, seq: int) -> None:
        self.t[src].send(Probe(src, dst, seq))

    def seqs(self, dst: str, src: str) -> list[int]:
        return [m.seq for m in self.inbox[dst] if isinstance(m, Probe) and m.src == src]

    async def barrier(self, src: str, dst: str, seq: int) -> None:
        """Send a marker and wait for it: everything sent earlier on src -> dst has landed."""
        self.send(src, dst, seq)
        await wait_until(lambda: seq in self.seqs(dst, src), f"marker {seq} {src}->{dst}")


def test_isolating_a_node_from_its_own_rules_cuts_both_directions_and_heals() -> None:
    async def main() -> None:
        c = Cluster("a", "b", "c")
        await c.start()
        try:
            # Only a's rules change, as an admin endpoint on a's process would do.
            c.rules["a"].isolate("a", ["b", "c"])
            c.send("a", "b", 1)
            c.send("b", "a", 2)
            c.send("c", "a", 3)
            await c.barrier("b", "c", 100)  # b <-> c still works
            await c.barrier("c", "b", 101)
            await asyncio.sleep(0.1)
            assert c.inbox["a"] == [] and c.seqs("b", "a") == []
            assert c.rules["a"].counters.blocked_send == 1
            await wait_until(lambda: c.rules["a"].counters.blocked_receive == 2, "a discarding")
            c.rules["a"].heal()
            await c.barrier("a", "b", 4)
            await c.barrier("b", "a", 5)
            await c.barrier("c", "a", 6)
            assert c.seqs("a", "b") == [5] and c.seqs("a", "c") == [6]
        finally:
            await c.close()

    run(main)


def test_one_way_partition_blocks_only_one_direction() -> None:
    async def main() -> None:
        c = Cluster("a", "b")
        await c.start()
        try:
            c.rules["a"].partition(["a"], ["b"], one_way=True)  # a can no longer reach b
            c.send("a", "b", 1)
            await c.barrier("b", "a", 2)  # the other direction works
            c.send("a", "b", 3)
            await asyncio.sleep(0.1)
            assert c.seqs("b", "a") == []
            c.rules["a"].heal()
            await c.barrier("a", "b", 4)
            assert c.seqs("b", "a") == [4]
        finally:
            await c.close()

    run(main)


def test_drop_probability_on_the_wire_matches_the_seeded_replay() -> None:
    n = 400

    async def main() -> None:
        c = Cluster("a", "b")
        await c.start()
        try:
            c.rules["a"].set_default(LinkFault(drop=0.25))
            for seq in range(n):
                c.send("a", "b", seq)
            c.rules["a"].clear()
            await c.barrier("a", "b", n)
            got = c.seqs("b", "a")[:-1]
            # The same seed decides the same messages: replay the rules to predict them.
            replay = FaultRules(random.Random("a"))
            replay.set_default(LinkFault(drop=0.25))
            expected = [s for s in range(n) if replay.on_send("a", "b").deliver]
            assert got == expected
            assert 0.15 * n < n - len(got) < 0.35 * n
            assert c.rules["a"].counters.dropped == n - len(got)
        finally:
            await c.close()

    run(main)


def test_delay_holds_messages_back() -> None:
    async def main() -> None:
        c = Cluster("a", "b")
        await c.start()
        try:
            await c.barrier("a", "b", 0)  # connected, so only the fault delays
            c.rules["a"].set_link("a", "b", LinkFault(delay_ms=150))
            loop = asyncio.get_running_loop()
            sent_at = loop.time()
            c.send("a", "b", 1)
            await wait_until(lambda: 1 in c.seqs("b", "a"), "the delayed probe")
            assert loop.time() - sent_at >= 0.14
            assert c.rules["a"].counters.delayed == 1
        finally:
            await c.close()

    run(main)
