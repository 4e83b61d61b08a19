"""Fault injection: one knob per fallacy of distributed computing, and the nemesis
that draws a schedule of faults from the seed.

Rules this file keeps:
- `FaultConfig` names which faults are on (`kinds`) and how hard each one hits;
  `FaultConfig.parse("partition,drop,...")` is what `--faults` gives. The knobs:
    latency  a heavy tail on top of the normal per-link latency ("latency is zero")
    drop     messages lost                                  ("the network is reliable")
    dup      messages delivered twice
    reorder  messages overtake each other on a link
    queue    a bounded per-link queue drops on overflow     ("bandwidth is infinite")
    partition symmetric, one-way and bridge partitions      ("topology doesn't change")
    crash    power loss (unsynced writes lost, maybe torn), restart later
    pause    a node stops (a GC pause, a stuck VM), then resumes
    skew     per-node clock offset and drift rate
    membership  learners added, promoted, members removed, leadership handed over
             (sim/membership.py)
- Link faults are on for the whole active phase at an intensity drawn per run; node
  and partition faults are events the nemesis schedules from its own random stream.
- Besides random targets the nemesis aims where consensus bugs live: at the current
  leader, at a leader just elected (churn), at a leader the moment it first commits
  in its term (strike), and at crash points: a crash armed for a node's next fsync,
  and a chance to crash while a new term or vote is being synced. A crash loses the
  unsynced writes, sometimes leaving a torn prefix (disk.py).
- Everything heals at `heal()`: partitions lifted, crashed nodes restarted, paused
  nodes resumed, link faults off, so the run ends with a quiet period in which
  pending operations can complete.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from senate.consensus.types import Role
from senate.errors import UsageError
from senate.sim.membership import MembershipNemesis
from senate.sim.network import LinkConfig, Network
from senate.sim.node import Node, NodeState
from senate.sim.scheduler import US_PER_MS, Scheduler

FAULT_KINDS: tuple[str, ...] = (
    "latency",
    "drop",
    "dup",
    "reorder",
    "queue",
    "partition",
    "crash",
    "pause",
    "skew",
    "membership",
)
DEFAULT_FAULTS: tuple[str, ...] = FAULT_KINDS  # what "all" means
# Kinds that only run when named (none now: membership joined "all" once Raft,
# Multi-Paxos and ZAB passed seeds 1..1000 with it).
OPT_IN_FAULTS: tuple[str, ...] = ()
KNOWN_FAULTS: tuple[str, ...] = FAULT_KINDS + OPT_IN_FAULTS


@dataclass(slots=True)
class FaultConfig:
    kinds: frozenset[str] = frozenset(DEFAULT_FAULTS)
    tail_prob: float = 0.05  # share of messages taking the heavy tail
    tail_scale_us: int = 30 * US_PER_MS
    drop_prob: float = 0.05  # upper bound; each run draws its own in [0, bound]
    dup_prob: float = 0.05
    queue_limit: int = 32
    interval_us: int = 120 * US_PER_MS  # mean time between nemesis events
    min_duration_us: int = 30 * US_PER_MS
    max_duration_us: int = 600 * US_PER_MS
    target_leader_prob: float = 0.5  # a partition or crash aims at the current leader
    churn_prob: float = 0.6  # a fresh leader is isolated or crashed soon after winning
    churn_delay_us: int = 5 * US_PER_MS  # "soon": uniform in [0, this]
    first_commit_strike_prob: float = 0.6  # ... or right after its first commit
    torn_prob: float = 0.5  # chance a crash leaves a torn prefix of unsynced writes
    crash_at_fsync_prob: float = 0.6  # crash waits for the node's next fsync
    vote_crash_prob: float = 0.03  # crash while syncing a new term or vote
    fsync_latency_us: int = 2 * US_PER_MS
    max_skew_us: int = 50 * US_PER_MS
    max_drift: float = 0.1  # clock rate within 1 +- this

    @classmethod
    def parse(cls, text: str) -> FaultConfig:
        """`"partition,drop"`, `"all"` (every kind), `"all,membership"` or `"none"` (or '')."""
        names = [n.strip() for n in text.split(",") if n.strip()]
        if names in ([], ["none"]):
            return cls(frozenset())
        unknown = [n for n in names if n not in KNOWN_FAULTS and n != "all"]
        if unknown:
            raise UsageError(
                f"unknown fault {unknown[0]!r} (choose from {', '.join(KNOWN_FAULTS)}, all, none)"
            )
        kinds = set(names) - {"all"}
        if "all" in names:
            kinds |= set(DEFAULT_FAULTS)
        return cls(frozenset(kinds))

    def spec(self) -> str:
        """The `--faults` value that gives these kinds back."""
        if self.kinds >= frozenset(DEFAULT_FAULTS):
            extra = [k for k in KNOWN_FAULTS if k in self.kinds and k not in DEFAULT_FAULTS]
            return ",".join(["all", *extra])
        return ",".join(k for k in KNOWN_FAULTS if k in self.kinds) or "none"

    def link_config(self, rng: random.Random) -> LinkConfig:
        """The link faults for the active phase, at intensities drawn from `rng`."""
        on = self.kinds
        cfg = LinkConfig()
        # Draw every knob whether or not it is on, so switching one does not
        # shift the draws of the others.
        tail = rng.uniform(0.2, 1.0) * self.tail_prob
        drop = rng.uniform(0.0, 1.0) * self.drop_prob
        dup = rng.uniform(0.0, 1.0) * self.dup_prob
        if "latency" in on:
            cfg.tail_prob = tail
            cfg.tail_scale_us = self.tail_scale_us
        if "drop" in on:
            cfg.drop_prob = drop
        if "dup" in on:
            cfg.dup_prob = dup
        cfg.reorder = "reorder" in on
        if "queue" in on:
            cfg.queue_limit = self.queue_limit
        return cfg


@dataclass(slots=True)
class Nemesis:
    """Schedules node and partition faults until `heal()`."""

    config: FaultConfig
    sched: Scheduler
    net: Network
    nodes: list[Node]
    rng: random.Random
    injected: Counter[str] = field(default_factory=Counter)
    active: bool = False
    membership: MembershipNemesis | None = None  # when the `membership` kind is on
    _partition_until: int = 0
    _partition_gen: int = 0

    def start(self) -> None:
        self.active = True
        if "crash" in self.config.kinds:
            for node in self.nodes:
                node.vote_crash_prob = self.config.vote_crash_prob
                node.on_self_crash = self._crashed
        self.net.config = self.config.link_config(self.rng)
        for kind, on in (
            ("drop", self.net.config.drop_prob > 0),
            ("dup", self.net.config.dup_prob > 0),
            ("latency", self.net.config.tail_prob > 0),
            ("reorder", self.net.config.reorder),
            ("queue", self.net.config.queue_limit > 0),
        ):
            if on:
                self.injected[kind] += 1
        if self._events():
            self._schedule_next()
        if self.membership is not None:
            self._schedule_membership()

    def adopt(self, node: Node) -> None:
        """A node that joined mid-run gets the faults the others have."""
        if self.active and "crash" in self.config.kinds:
            node.vote_crash_prob = self.config.vote_crash_prob
            node.on_self_crash = self._crashed

    def _live(self) -> list[Node]:
        """The nodes that have not left the cluster."""
        return [n for n in self.nodes if not n.removed]

    def on_new_leader(self, node_id: str, term: int) -> None:
        """Leader churn: knock a fresh leader out before it settles (Raft's Figure 8
        and most election bugs need a leader to fail right after winning)."""
        kinds = [k for k in ("partition", "crash") if k in self.config.kinds]
        if not self.active or not kinds or self.rng.random() >= self.config.churn_prob:
            return
        kind = self.rng.choice(kinds)
        delay = self.rng.randint(0, self.config.churn_delay_us)
        node = next(n for n in self.nodes if n.id == node_id)
        self.sched.after(delay, f"nemesis churn {kind} {node_id}", _Churn(self, node, kind, term))

    def on_leader_commit(self, node_id: str, term: int) -> None:
        """Strike a leader the moment it first commits in its term: whatever it just
        decided must survive losing it (a leader that commits too early is caught)."""
        kinds = [k for k in ("partition", "crash") if k in self.config.kinds]
        if not self.active or not kinds:
            return
        if self.rng.random() >= self.config.first_commit_strike_prob:
            return
        kind = self.rng.choice(kinds)
        node = next(n for n in self.nodes if n.id == node_id)
        self.sched.after(0, f"nemesis strike {kind} {node_id}", _Churn(self, node, kind, term))

    def _churn(self, node: Node, kind: str) -> None:
        if not self.active or node.state is not NodeState.UP:
            return
        self.injected[f"churn-{kind}"] += 1
        duration = self._duration()
        if kind == "crash":
            node.crash()
            self.sched.after(duration, f"nemesis restart {node.id}", _Restart(node))
            return
        # Isolation replaces whatever partition is on.
        self.net.heal()
        self.net.partition([node.id], [n.id for n in self._live() if n is not node])
        self.sched.note(f"nemesis isolate {node.id}")
        self._partition_until = self.sched.now + duration
        self._partition_gen += 1
        self.sched.after(duration, "nemesis heal-partition", _Heal(self, self._partition_gen))

    def _events(self) -> list[str]:
        return [k for k in ("partition", "crash", "pause") if k in self.config.kinds]

    def _schedule_next(self) -> None:
        delay = int(self.rng.expovariate(1.0 / self.config.interval_us))
        self.sched.after(delay, "nemesis", self._fire)

    def _duration(self) -> int:
        return self.rng.randint(self.config.min_duration_us, self.config.max_duration_us)

    def _fire(self) -> None:
        if not self.active:
            return
        kind = self.rng.choice(self._events())
        if kind == "partition":
            self._partition()
        elif kind == "crash":
            self._crash()
        else:
            self._pause()
        self._schedule_next()

    def _schedule_membership(self) -> None:
        # Its own steps from its own stream: turning it on shifts no other fault.
        assert self.membership is not None
        delay = self.membership.next_delay()
        self.sched.after(delay, "nemesis membership", self._fire_membership)

    def _fire_membership(self) -> None:
        if not self.active or self.membership is None:
            return
        self.membership.step(self._leader())
        self._schedule_membership()

    def _leader(self) -> Node | None:
        """The up node that believes it leads in the highest term (the nemesis may peek)."""
        best: tuple[int, Node] | None = None
        for node in self.nodes:
            if node.state is NodeState.UP and node.engine is not None:
                st = node.engine.status()
                if st.role is Role.LEADER and (best is None or st.term > best[0]):
                    best = (st.term, node)
        return best[1] if best else None

    def _target(self) -> Node:
        """A random node, or the leader when the draw says to aim at it."""
        pick = self.rng.choice(self._live())
        aim = self.rng.random() < self.config.target_leader_prob
        leader = self._leader() if aim else None
        return leader if leader is not None else pick

    def _partition(self) -> None:
        if self.sched.now < self._partition_until:
            return  # one partition at a time keeps them readable in a trace
        ids = [n.id for n in self._live()]
        self.rng.shuffle(ids)
        target = self._target().id
        # Put the target first: it lands in the first side (the minority when cut is small).
        ids.remove(target)
        ids.insert(0, target)
        shape = self.rng.choice(("symmetric", "asymmetric", "bridge"))
        cut = self.rng.randint(1, len(ids) // 2 + 1) if len(ids) > 2 else 1
        a, b = ids[:cut], ids[cut:]
        if shape == "symmetric":
            self.net.partition(a, b)
        elif shape == "asymmetric":
            self.net.partition_one_way(a, b)
        else:
            if len(ids) < 3:
                self.net.partition(a, b)
            else:
                middle = ids[-1]
                rest = ids[:-1]
                half = self.rng.randint(1, len(rest) - 1)
                self.net.bridge(rest[:half], middle, rest[half:])
                a, b = rest[:half], [middle, *rest[half:]]
        self.injected[f"partition-{shape}"] += 1
        self.sched.note(f"nemesis partition {shape} {sorted(a)} | {sorted(b)}")
        duration = self._duration()
        self._partition_until = self.sched.now + duration
        self._partition_gen += 1
        self.sched.after(duration, "nemesis heal-partition", _Heal(self, self._partition_gen))

    def _end_partition(self, gen: int) -> None:
        if gen == self._partition_gen:  # a later partition replaced this one: not ours
            self.net.heal()

    def _crash(self) -> None:
        node = self._target()
        at_fsync = self.rng.random() < self.config.crash_at_fsync_prob
        down_for = self._duration()
        if node.state is not NodeState.UP:
            return
        if at_fsync:
            node.crash_at_fsync = True
            self.sched.note(f"nemesis arm-crash {node.id}")
            # If no fsync comes within the window, crash anyway.
            self.sched.after(down_for // 4, f"nemesis crash {node.id}", _Crash(self, node))
            return  # the node reports its crash (and gets its restart) through _crashed
        self.injected["crash"] += 1
        node.crash()
        self.sched.after(down_for, f"nemesis restart {node.id}", _Restart(node))

    def _crashed(self, node: Node) -> None:
        """A node crashed at a crash point it was armed with: restart it later."""
        self.injected["crash-at-fsync"] += 1
        self.sched.after(self._duration(), f"nemesis restart {node.id}", _Restart(node))

    def _pause(self) -> None:
        node = self._target()
        duration = self._duration()
        if node.state is not NodeState.UP:
            return
        self.injected["pause"] += 1
        node.pause()
        self.sched.after(duration, f"nemesis resume {node.id}", node.resume)

    def heal(self) -> None:
        """End of the active phase: every fault off, every node back."""
        self.active = False
        self.net.heal()
        self.net.restart_links()
        self.net.config = LinkConfig()
        for node in self.nodes:
            node.crash_at_fsync = False
            node.vote_crash_prob = 0.0
            if node.state is NodeState.DOWN:
                node.restart()
            elif node.state is NodeState.PAUSED:
                node.resume()
        self.sched.note("nemesis heal")


@dataclass(slots=True)
class _Heal:
    nemesis: Nemesis
    gen: int

    def __call__(self) -> None:
        self.nemesis._end_partition(self.gen)


@dataclass(slots=True)
class _Churn:
    nemesis: Nemesis
    node: Node
    kind: str
    term: int

    def __call__(self) -> None:
        self.nemesis._churn(self.node, self.kind)


@dataclass(slots=True)
class _Crash:
    """The fallback of an armed crash: fires only if the fsync never came."""

    nemesis: Nemesis
    node: Node

    def __call__(self) -> None:
        if self.nemesis.active and self.node.crash_at_fsync:
            nemesis = self.nemesis
            nemesis.injected["crash"] += 1
            self.node.crash()
            delay = nemesis._duration()
            nemesis.sched.after(delay, f"nemesis restart {self.node.id}", _Restart(self.node))


@dataclass(slots=True)
class _Restart:
    node: Node

    def __call__(self) -> None:
        if self.node.state is NodeState.DOWN:
            self.node.restart()
