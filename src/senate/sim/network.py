"""The simulated network between nodes: latency with a tail, loss, duplication,
reordering, bounded links and partitions.

Rules this file keeps:
- A message is an object handed from one node's driver to another's. A share of
  them (`wire_share`) goes through the engine's codec and msgpack on the way, so
  what a peer decodes from real bytes is what the engines get to see.
- Every random draw comes from the network's own stream, in send order, so the
  same sends give the same fate.
- A link (src, dst) is one direction. Partitions are sets of blocked directed links:
  symmetric blocks both ways, asymmetric one way, a bridge blocks the two halves
  from each other while both still reach the middle node.
- Reachability is judged at delivery time: a message in flight when a partition
  starts is lost, like a packet on a cut cable.
- Without reordering a link is FIFO (a message never overtakes an earlier one on the
  same link); with it, each message takes its own latency and may overtake.
- A link holds at most `queue_limit` messages in flight; a send beyond that is
  dropped, like an overflowing socket buffer.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import msgpack

from senate.consensus.types import Message
from senate.sim.scheduler import US_PER_MS, Scheduler


@dataclass(slots=True)
class LinkConfig:
    """Per-link behaviour. Probabilities are per message."""

    base_latency_us: int = 200
    median_latency_us: int = 800  # of the lognormal body above the base
    sigma: float = 0.5  # lognormal shape of the body
    tail_prob: float = 0.0  # chance a message takes a heavy-tailed detour
    tail_scale_us: int = 20 * US_PER_MS  # pareto scale of that detour
    tail_alpha: float = 1.5
    drop_prob: float = 0.0
    dup_prob: float = 0.0
    reorder: bool = False
    queue_limit: int = 0  # 0 = unbounded
    wire_share: float = 0.05  # share of messages sent through to_wire/msgpack/from_wire


@dataclass(slots=True)
class NetStats:
    sent: int = 0
    delivered: int = 0
    dropped: int = 0
    duplicated: int = 0
    blocked: int = 0
    overflowed: int = 0


@dataclass(slots=True)
class _Link:
    in_flight: int = 0
    last_arrival: int = 0


Deliver = Callable[[Message], None]


@dataclass(slots=True)
class Network:
    sched: Scheduler
    rng: random.Random
    config: LinkConfig = field(default_factory=LinkConfig)
    stats: NetStats = field(default_factory=NetStats)
    _blocked: set[tuple[str, str]] = field(default_factory=set)
    _links: dict[tuple[str, str], _Link] = field(default_factory=dict)
    _receivers: dict[str, Deliver] = field(default_factory=dict)

    def attach(self, node: str, deliver: Deliver) -> None:
        """`deliver` is called for every message that reaches `node`."""
        self._receivers[node] = deliver

    # --- partitions -------------------------------------------------------------

    def block(self, src: str, dst: str) -> None:
        self._blocked.add((src, dst))

    def partition(self, side_a: Iterable[str], side_b: Iterable[str]) -> None:
        """Symmetric: no message crosses between the sides, either way."""
        b = sorted(side_b)
        for x in sorted(side_a):
            for y in b:
                self._blocked.add((x, y))
                self._blocked.add((y, x))

    def partition_one_way(self, senders: Iterable[str], receivers: Iterable[str]) -> None:
        """Asymmetric: `senders` cannot reach `receivers`; replies still flow back."""
        r = sorted(receivers)
        for x in sorted(senders):
            for y in r:
                self._blocked.add((x, y))

    def bridge(self, side_a: Iterable[str], middle: str, side_b: Iterable[str]) -> None:
        """The halves cannot talk to each other; both still talk to `middle`."""
        self.partition([n for n in side_a if n != middle], [n for n in side_b if n != middle])

    def heal(self) -> None:
        self._blocked.clear()

    def restart_links(self) -> None:
        """Every link starts afresh (the final heal): a message sent from now on is
        not held behind one still in flight from before. A latency tail can reach
        seconds, and FIFO would hold the link that long after the heal, as a TCP
        connection would until it is reset and re-opened. What was in flight still
        arrives, possibly after newer messages."""
        now = self.sched.now
        for link in self._links.values():
            link.last_arrival = min(link.last_arrival, now)

    def reachable(self, src: str, dst: str) -> bool:
        return (src, dst) not in self._blocked

    @property
    def partitioned(self) -> bool:
        return bool(self._blocked)

    # --- sending ----------------------------------------------------------------

    def latency(self) -> int:
        cfg = self.config
        rng = self.rng
        body = cfg.median_latency_us * rng.lognormvariate(0.0, cfg.sigma)
        if cfg.tail_prob and rng.random() < cfg.tail_prob:
            body += cfg.tail_scale_us * (rng.paretovariate(cfg.tail_alpha) - 1.0)
        return cfg.base_latency_us + int(min(body, 10_000_000))

    def send(self, msg: Message) -> None:
        cfg = self.config
        stats = self.stats
        stats.sent += 1
        src, dst = msg.src, msg.dst
        if cfg.drop_prob and self.rng.random() < cfg.drop_prob:
            stats.dropped += 1
            return
        copies = 1
        if cfg.dup_prob and self.rng.random() < cfg.dup_prob:
            copies = 2
            stats.duplicated += 1
        if cfg.wire_share and self.rng.random() < cfg.wire_share:
            msg = _through_wire(msg)
        key = (src, dst)
        link = self._links.get(key)
        if link is None:
            link = self._links[key] = _Link()
        for _ in range(copies):
            if cfg.queue_limit and link.in_flight >= cfg.queue_limit:
                stats.overflowed += 1
                continue
            arrival = self.sched.now + self.latency()
            if not cfg.reorder:
                arrival = max(arrival, link.last_arrival)
            link.last_arrival = max(link.last_arrival, arrival)
            link.in_flight += 1
            label = f"net {src}>{dst} {type(msg).__name__}"
            self.sched.at(arrival, label, _Arrival(self, link, msg))

    def _arrive(self, link: _Link, msg: Message) -> None:
        link.in_flight -= 1
        if (msg.src, msg.dst) in self._blocked:
            self.stats.blocked += 1
            return
        receiver = self._receivers.get(msg.dst)
        if receiver is None:
            self.stats.dropped += 1
            return
        self.stats.delivered += 1
        receiver(msg)


def _through_wire(msg: Message) -> Message:
    """The message as the peer would decode it from real bytes (if it has a codec)."""
    to_wire = getattr(msg, "to_wire", None)
    from_wire = getattr(type(msg), "from_wire", None)
    if to_wire is None or from_wire is None:
        return msg
    decoded: Message = from_wire(msgpack.unpackb(msgpack.packb(to_wire()), use_list=True))
    if decoded != msg:
        raise AssertionError(f"wire round trip changed a message: {msg!r} -> {decoded!r}")
    return decoded


@dataclass(slots=True)
class _Arrival:
    """A bound delivery callback (cheaper to build than a closure per message)."""

    net: Network
    link: _Link
    msg: Message

    def __call__(self) -> None:
        self.net._arrive(self.link, self.msg)
