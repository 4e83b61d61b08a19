"""The simulated network: partitions, loss, duplication, bounded links, FIFO."""

from __future__ import annotations

import random
from dataclasses import dataclass

from senate.sim.network import LinkConfig, Network
from senate.sim.scheduler import Scheduler

NODES = ["n1", "n2", "n3", "n4", "n5"]


@dataclass(slots=True)
class Msg:
    src: str
    dst: str
    n: int = 0


def _net(config: LinkConfig | None = None) -> tuple[Scheduler, Network, dict[str, list[Msg]]]:
    sched = Scheduler(1)
    net = Network(sched, random.Random(1), config or LinkConfig())
    inbox: dict[str, list[Msg]] = {n: [] for n in NODES}
    for n in NODES:
        net.attach(n, lambda m, n=n: inbox[n].append(m))  # type: ignore[misc]
    return sched, net, inbox


def _all_pairs(net: Network) -> None:
    for a in NODES:
        for b in NODES:
            if a != b:
                net.send(Msg(a, b))


def _delivered(inbox: dict[str, list[Msg]]) -> set[tuple[str, str]]:
    return {(m.src, m.dst) for msgs in inbox.values() for m in msgs}


def test_symmetric_partition_blocks_both_ways_only_across() -> None:
    sched, net, inbox = _net()
    net.partition(["n1", "n2"], ["n3", "n4", "n5"])
    _all_pairs(net)
    sched.run_until(10**7)
    got = _delivered(inbox)
    assert ("n1", "n2") in got and ("n3", "n5") in got
    assert ("n1", "n3") not in got and ("n3", "n1") not in got
    assert len(got) == 2 + 6


def test_one_way_partition_blocks_one_direction() -> None:
    sched, net, inbox = _net()
    net.partition_one_way(["n1"], ["n2"])
    _all_pairs(net)
    sched.run_until(10**7)
    got = _delivered(inbox)
    assert ("n1", "n2") not in got
    assert ("n2", "n1") in got
    assert len(got) == 19


def test_bridge_keeps_the_middle_connected_to_both_halves() -> None:
    sched, net, inbox = _net()
    net.bridge(["n1", "n2"], "n3", ["n4", "n5"])
    _all_pairs(net)
    sched.run_until(10**7)
    got = _delivered(inbox)
    for half in ("n1", "n2", "n4", "n5"):
        assert ("n3", half) in got and (half, "n3") in got
    assert ("n1", "n4") not in got and ("n5", "n2") not in got
    assert ("n1", "n2") in got and ("n4", "n5") in got


def test_partition_drops_messages_already_in_flight_and_heal_restores() -> None:
    sched, net, inbox = _net()
    net.send(Msg("n1", "n2"))
    net.partition(["n1"], ["n2"])
    sched.run_until(10**7)
    assert inbox["n2"] == []
    net.heal()
    net.send(Msg("n1", "n2"))
    sched.run_until(2 * 10**7)
    assert len(inbox["n2"]) == 1


def test_duplication_delivers_twice_and_drop_delivers_never() -> None:
    sched, net, inbox = _net(LinkConfig(dup_prob=1.0))
    net.send(Msg("n1", "n2"))
    sched.run_until(10**7)
    assert len(inbox["n2"]) == 2
    sched, net, inbox = _net(LinkConfig(drop_prob=1.0))
    net.send(Msg("n1", "n2"))
    sched.run_until(10**7)
    assert inbox["n2"] == [] and net.stats.dropped == 1


def test_bounded_queue_drops_overflow() -> None:
    sched, net, inbox = _net(LinkConfig(queue_limit=3))
    for i in range(10):
        net.send(Msg("n1", "n2", i))
    sched.run_until(10**7)
    assert [m.n for m in inbox["n2"]] == [0, 1, 2]
    assert net.stats.overflowed == 7
    net.send(Msg("n1", "n2", 99))  # the queue drained, so the link takes more
    sched.run_until(2 * 10**7)
    assert inbox["n2"][-1].n == 99


def test_links_are_fifo_without_reorder_and_reorder_with_it() -> None:
    cfg = LinkConfig(sigma=2.0)
    sched, net, inbox = _net(cfg)
    for i in range(200):
        net.send(Msg("n1", "n2", i))
    sched.run_until(10**9)
    assert [m.n for m in inbox["n2"]] == list(range(200))
    sched, net, inbox = _net(LinkConfig(sigma=2.0, reorder=True))
    for i in range(200):
        net.send(Msg("n1", "n2", i))
    sched.run_until(10**9)
    got = [m.n for m in inbox["n2"]]
    assert sorted(got) == list(range(200)) and got != list(range(200))


def test_latency_tail_produces_outliers() -> None:
    _, net, _ = _net(LinkConfig(tail_prob=0.2, tail_scale_us=50_000))
    samples = [net.latency() for _ in range(2000)]
    assert min(samples) >= net.config.base_latency_us
    assert max(samples) > 20 * sorted(samples)[len(samples) // 2]
