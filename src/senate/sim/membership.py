"""The membership nemesis: the cluster changes shape while the other faults hit it.

Rules this file keeps:
- On each of its steps (every `interval_us` on average, on its own timer), with
  probability `step_prob`, the current leader is asked for
  one of: add a learner (a fresh id, n6, n7, ...; never an id used before), promote
  a learner it reports caught up, remove a voter (never below `min_voters`) or a
  learner, or hand leadership to a caught-up voter. Every draw comes from this
  nemesis's own random stream, so turning it on does not shift the other faults.
- A refusal (NotLeader, ProposalDropped, ConfigChangeInProgress, any engine error
  deriving from ConsensusError, or a UsageError an engine raises for a node id it
  cannot take) is a no-op: refusing is the engine's right.
- The cluster follows *applied* entries, as the real runtime does
  (runtime/membership.py): the first time any node applies an ADD_LEARNER the new
  node is spun up with an empty disk, knowing the committed members; the first
  time any node applies a REMOVE the removed node is stopped for good a moment
  later. A change that is truncated away never reaches the cluster.
- `applied` counts the conf changes that took effect (by op), for the summary and
  the tests.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from senate.consensus.types import ConfChange, ConfChangeOp, Entry, Membership, Role
from senate.errors import ConsensusError, UsageError
from senate.sim.node import Node, NodeState
from senate.sim.scheduler import US_PER_MS, Scheduler

# Builds, attaches and starts a new node with `membership`, and lists it.
Spawn = Callable[[str, Membership], Node]


@dataclass(slots=True)
class MembershipConfig:
    interval_us: int = 60 * US_PER_MS  # mean time between membership steps
    step_prob: float = 0.6  # chance a step tries a membership action
    min_voters: int = 3
    max_added: int = 6  # fresh node ids proposed per run at most
    stop_delay_us: int = 20 * US_PER_MS  # a removed node stops this long after it applied


@dataclass(slots=True)
class MembershipNemesis:
    config: MembershipConfig
    sched: Scheduler
    nodes: list[Node]  # every node that ever existed (shared with the runner)
    spawn: Spawn
    rng: random.Random
    committed: Membership  # the membership as of the applied conf changes
    injected: Counter[str] = field(default_factory=Counter)  # proposals accepted
    applied: Counter[str] = field(default_factory=Counter)  # conf changes that took effect
    next_id: int = 0  # the number in the next fresh node id
    first_new_id: int = 0
    _seen: set[int] = field(default_factory=set)  # indexes of conf changes applied

    def __post_init__(self) -> None:
        self.first_new_id = self.next_id = len(self.nodes) + 1
        for node in self.nodes:
            node.on_conf_applied = self.on_conf_applied

    # --- what the leader is asked ----------------------------------------------

    def next_delay(self) -> int:
        return int(self.rng.expovariate(1.0 / self.config.interval_us))

    def step(self, leader: Node | None) -> None:
        """One nemesis step: maybe ask `leader` for a membership action."""
        rng = self.rng
        if rng.random() >= self.config.step_prob or leader is None or leader.engine is None:
            return
        st = leader.engine.status()
        m = st.membership
        # A learner waiting is the moment to promote it: weigh that up.
        weights = (2, 4 if m.learners else 0, 2, 1)
        action = rng.choices(("add", "promote", "remove", "transfer"), weights=weights)[0]
        if st.role is not Role.LEADER:
            return
        if action == "add":
            if self.next_id - self.first_new_id >= self.config.max_added:
                return
            node_id = f"n{self.next_id}"
            if self._propose(leader, ConfChange(ConfChangeOp.ADD_LEARNER, node_id), "add"):
                self.next_id += 1  # a refused id was never in any log: it may be asked again
        elif action == "promote":
            learners = [n for n in sorted(m.learners) if self._caught_up(leader, n)]
            if learners:
                node_id = rng.choice(learners)
                self._propose(leader, ConfChange(ConfChangeOp.PROMOTE, node_id), "promote")
        elif action == "remove":
            voters = sorted(m.voters) if len(m.voters) > self.config.min_voters else []
            candidates = voters + sorted(m.learners)
            if candidates:
                node_id = rng.choice(candidates)
                self._propose(leader, ConfChange(ConfChangeOp.REMOVE, node_id), "remove")
        else:
            targets = [
                n
                for n in sorted(m.voters)
                if n != leader.id and self._up(n) and self._caught_up(leader, n)
            ]
            if targets:
                target = rng.choice(targets)
                self.sched.note(f"nemesis transfer {leader.id} -> {target}")
                if self._ask(lambda: leader.transfer_leadership(target)):
                    self.injected["membership-transfer"] += 1

    def _propose(self, leader: Node, change: ConfChange, what: str) -> bool:
        self.sched.note(f"nemesis membership {what} {change.node} at {leader.id}")
        if self._ask(lambda: leader.propose_membership(change)):
            self.injected[f"membership-{what}"] += 1
            return True
        return False

    def _ask(self, fn: Callable[[], None]) -> bool:
        try:
            fn()
        except (ConsensusError, UsageError) as exc:
            self.sched.note(f"nemesis membership refused: {type(exc).__name__}")
            return False
        return True

    def _caught_up(self, leader: Node, node_id: str) -> bool:
        """The engine's learner_caught_up when it has one; else let the engine judge."""
        check: Callable[[str], bool] | None = getattr(leader.engine, "learner_caught_up", None)
        return True if check is None else check(node_id)

    def _up(self, node_id: str) -> bool:
        return any(n.id == node_id and n.state is NodeState.UP for n in self.nodes)

    # --- what the cluster does once a change is applied ------------------------

    def on_conf_applied(self, node_id: str, entry: Entry) -> None:
        """Some node applied a CONF_CHANGE entry (committed): the first time, act on it."""
        if entry.index in self._seen:
            return
        self._seen.add(entry.index)
        change = ConfChange.decode(entry.data)
        self.committed = _apply_change(self.committed, change)
        self.applied[change.op.name.lower()] += 1
        if change.op is ConfChangeOp.ADD_LEARNER and not any(
            n.id == change.node for n in self.nodes
        ):
            self.sched.after(0, f"spawn {change.node}", _Spawn(self, change.node))
        elif change.op is ConfChangeOp.REMOVE:
            delay = self.rng.randint(0, self.config.stop_delay_us)
            self.sched.after(delay, f"stop {change.node}", _Stop(self, change.node))

    def _spawn(self, node_id: str) -> None:
        if any(n.id == node_id for n in self.nodes) or node_id not in self.committed.members:
            return
        node = self.spawn(node_id, self.committed)
        node.on_conf_applied = self.on_conf_applied

    def _stop(self, node_id: str) -> None:
        for node in self.nodes:
            if node.id == node_id and not node.removed:
                node.stop()
                self.sched.note(f"stopped {node_id} (removed)")


def _apply_change(m: Membership, cc: ConfChange) -> Membership:
    """The engines' one-server-at-a-time rule (a change that does not apply is a no-op)."""
    if cc.op is ConfChangeOp.ADD_LEARNER:
        if cc.node in m.members:
            return m
        return Membership(m.voters, m.learners | {cc.node})
    if cc.op is ConfChangeOp.PROMOTE:
        if cc.node not in m.learners:
            return m
        return Membership(m.voters | {cc.node}, m.learners - {cc.node})
    if cc.node not in m.members or m.voters == {cc.node}:
        return m
    return Membership(m.voters - {cc.node}, m.learners - {cc.node})


@dataclass(slots=True)
class _Spawn:
    nemesis: MembershipNemesis
    node_id: str

    def __call__(self) -> None:
        self.nemesis._spawn(self.node_id)


@dataclass(slots=True)
class _Stop:
    nemesis: MembershipNemesis
    node_id: str

    def __call__(self) -> None:
        self.nemesis._stop(self.node_id)
