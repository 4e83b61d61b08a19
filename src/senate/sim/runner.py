"""One simulation run: build the cluster, the clients and the nemesis from a seed,
run to completion, check the history, summarize.

Rules this file keeps:
- A run is a pure function of its SimConfig: `run_simulation(cfg)` twice gives the
  same trace hash, history and summary.
- The run has two phases. While the first (1 - quiet_share) of the operations are
  issued the nemesis is active; then everything heals and the rest of the
  operations run on a quiet cluster, so pending operations can complete.
- The first invariant violation stops the run; an exception escaping an engine is
  a violation too (a core must never crash on what the network delivers).
- Liveness: once healed, the cluster must serve at least one operation, and every
  running member must apply what was committed when the last operation ended
  within catch_up_us after that (a node stuck outside the ensemble on a clean
  network is a bug even while a quorum serves: ZAB's lost-ACKEPOCH deadlock).
- At the end the history goes to the linearizability checker. NOT_LINEARIZABLE and
  UNKNOWN both fail the run; they are reported distinctly.
"""

from __future__ import annotations

import random
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TextIO

from senate.check import Verdict, check_events, events_from_dicts
from senate.consensus.types import Membership
from senate.sim.clients import Client, ClientConfig, HistoryEvent, Workload
from senate.sim.engines import engine_factory, random_config
from senate.sim.faults import FaultConfig, Nemesis
from senate.sim.invariants import Invariants, Violation, ViolationFound
from senate.sim.membership import MembershipConfig, MembershipNemesis
from senate.sim.network import Network
from senate.sim.node import Node, NodeConfig, NodeState
from senate.sim.scheduler import US_PER_MS, US_PER_S, Scheduler


@dataclass(slots=True)
class SimConfig:
    seed: int
    nodes: int = 5
    ops: int = 100
    faults: FaultConfig = field(default_factory=FaultConfig)
    protocol: str = "raft"
    mutant: str | None = None
    engine_config: Any = None  # the protocol's own config (RaftConfig); None = drawn from seed
    clients: int = 5
    keys: int = 3
    think_us: int = 40 * US_PER_MS  # mean pause between one client's ops
    tick_us: int = 10 * US_PER_MS
    snapshot_every: int = 25
    quiet_share: float = 0.3  # share of ops issued after the final heal
    settle_us: int = 200 * US_PER_MS  # run on after the last op, so all nodes catch up
    catch_up_us: int = 3 * US_PER_S  # longest a running member may lag after the settle
    max_time_us: int = 600 * US_PER_S  # a safety stop; never reached by a healthy run
    check_max_steps: int = 2_000_000
    trace: TextIO | None = None

    def replay_command(self) -> str:
        cmd = (
            f"senate sim --seed {self.seed} --nodes {self.nodes} --ops {self.ops} "
            f"--faults {self.faults.spec()} --protocol {self.protocol}"
        )
        if self.mutant is not None:
            cmd += f" --mutant {self.mutant}"
        return cmd


@dataclass(slots=True)
class SimResult:
    config: SimConfig
    leaders_elected: int
    entries_committed: int
    faults: dict[str, int]
    ops: dict[str, int]  # ok / fail / info
    verdict: str  # "linearizable", "not linearizable", "unknown", "not checked"
    check_message: str
    violations: list[Violation]
    trace_hash: str
    sim_time_us: int
    events: int
    history: list[HistoryEvent]
    net: dict[str, int]
    engine_config: Any
    ops_ok_after_heal: int
    conf_changes: dict[str, int]  # membership changes that took effect, by op

    @property
    def ok(self) -> bool:
        return not self.violations and self.verdict == Verdict.LINEARIZABLE.value

    @property
    def replay_command(self) -> str:
        return self.config.replay_command()

    def failure(self) -> str:
        """One line saying why the run failed ('' if it did not)."""
        if self.violations:
            return f"invariant violated: {self.violations[0]}"
        if not self.ok:
            return f"history {self.verdict}: {self.check_message}"
        return ""


def run_simulation(cfg: SimConfig) -> SimResult:
    sched = Scheduler(cfg.seed, cfg.trace)
    inv = Invariants()
    net = Network(sched, sched.rng("net"))
    engine_cfg = cfg.engine_config
    if engine_cfg is None:
        engine_cfg = random_config(cfg.protocol, sched.rng("knobs"))
    factory = engine_factory(cfg.protocol, cfg.mutant, engine_cfg)
    ids = [f"n{i + 1}" for i in range(cfg.nodes)]
    membership = Membership(frozenset(ids))
    faults = cfg.faults
    clock_rng = sched.rng("clock")
    nodes: list[Node] = []

    def build(node_id: str, members: Membership) -> Node:
        skew = clock_rng.randint(0, faults.max_skew_us)
        drift = 1.0 + clock_rng.uniform(-faults.max_drift, faults.max_drift)
        skewed = "skew" in faults.kinds
        node_cfg = NodeConfig(
            tick_us=cfg.tick_us,
            snapshot_every=cfg.snapshot_every,
            fsync_latency_us=faults.fsync_latency_us,
            torn_prob=faults.torn_prob if "crash" in faults.kinds else 0.0,
            drift=drift if skewed else 1.0,
            skew_us=skew if skewed else 0,
        )
        node = Node(
            node_id,
            members,
            factory,
            sched,
            net,
            inv,
            node_cfg,
            engine_rng=_EngineRng(sched, node_id),
            crash_rng=sched.rng(f"disk/{node_id}"),
        )
        net.attach(node_id, node.receive)
        nodes.append(node)
        return node

    for node_id in ids:
        build(node_id, membership)

    client_cfg = ClientConfig(
        clients=cfg.clients, keys=cfg.keys, ops=cfg.ops, think_us=cfg.think_us
    )
    load = Workload(client_cfg, sched)
    clients = [Client(p, nodes, load, sched.rng(f"client/{p}")) for p in range(cfg.clients)]
    nemesis = Nemesis(faults, sched, net, nodes, sched.rng("nemesis"))
    if "membership" in faults.kinds:

        def spawn(node_id: str, members: Membership) -> Node:
            # A joining node: an empty disk, the committed members, the others' faults.
            node = build(node_id, members)
            nemesis.adopt(node)
            node.start()
            return node

        nemesis.membership = MembershipNemesis(
            MembershipConfig(), sched, nodes, spawn, sched.rng("membership"), membership
        )
    inv.on_new_leader = nemesis.on_new_leader
    inv.on_leader_commit = nemesis.on_leader_commit
    heal_at = cfg.ops - int(cfg.ops * cfg.quiet_share)
    violations: list[Violation] = []
    try:
        for node in nodes:
            node.start()
        for client in clients:
            client.start()
        nemesis.start()
        healed = False
        end_at: int | None = None
        target = 0  # what was applied somewhere when the last op ended
        while sched.step():
            if not healed and load.issued >= heal_at:
                healed = True
                nemesis.heal()
                load.quiet_from = sched.now
            if end_at is None and load.done:
                end_at = sched.now + cfg.settle_us
                target = max(n.kv.applied_index for n in nodes)
            if end_at is not None and sched.now >= end_at:
                lagging = _lagging(nodes, target)
                if not lagging:
                    break
                if sched.now >= end_at + cfg.catch_up_us:
                    raise ViolationFound(
                        Violation(
                            sched.now,
                            lagging[0],
                            "liveness",
                            f"{', '.join(lagging)} still behind index {target} "
                            f"{(cfg.settle_us + cfg.catch_up_us) // US_PER_MS} ms after the "
                            "last op ended, on a healed network",
                        )
                    )
            if sched.now > cfg.max_time_us:
                break
    except ViolationFound as exc:
        violations.append(exc.violation)
    except Exception as exc:  # an engine (or driver) crashed: that is a finding too
        where = "".join(traceback.format_exception(exc, limit=-3)).strip().splitlines()
        violations.append(
            Violation(sched.now, "-", "exception", f"{type(exc).__name__}: {exc} | {where[-3:]}")
        )

    verdict, message = "not checked", "the run stopped at a violation"
    if not violations:
        if not load.done:
            violations.append(
                Violation(sched.now, "-", "liveness", f"only {load.completed}/{cfg.ops} ops ended")
            )
        elif load.quiet_from is not None and heal_at < cfg.ops and load.ok_after == 0:
            # After the heal the network is clean and every node is up: a cluster
            # that still serves nothing is stuck.
            violations.append(
                Violation(sched.now, "-", "liveness", "no op succeeded after the final heal")
            )
        else:
            result = check_events(events_from_dicts(load.history), max_steps=cfg.check_max_steps)
            verdict, message = result.verdict.value, result.message
    stats = net.stats
    return SimResult(
        config=cfg,
        leaders_elected=len(inv.leaders),
        entries_committed=len(inv.chosen),
        faults=dict(sorted(_faults_injected(nemesis, nodes).items())),
        ops=dict(load.counts),
        verdict=verdict,
        check_message=message,
        violations=violations,
        trace_hash=sched.trace_hash,
        sim_time_us=sched.now,
        events=sched.events_fired,
        history=load.history,
        net={
            "sent": stats.sent,
            "delivered": stats.delivered,
            "dropped": stats.dropped,
            "duplicated": stats.duplicated,
            "blocked": stats.blocked,
            "overflowed": stats.overflowed,
        },
        engine_config=engine_cfg,
        ops_ok_after_heal=load.ok_after,
        conf_changes=dict(sorted(nemesis.membership.applied.items()))
        if nemesis.membership is not None
        else {},
    )


def _lagging(nodes: list[Node], target: int) -> list[str]:
    """The running members (of the most advanced node's membership) that have not
    applied `target` yet."""
    ahead = max(nodes, key=lambda n: n.kv.applied_index)
    if ahead.engine is None:
        return []
    members = ahead.engine.status().membership.members
    return [
        n.id
        for n in nodes
        if n.id in members
        and n.state is NodeState.UP
        and not n.removed
        and n.kv.applied_index < target
    ]


def _faults_injected(nemesis: Nemesis, nodes: list[Node]) -> Counter[str]:
    out = Counter(nemesis.injected)
    if nemesis.membership is not None:
        out.update(nemesis.membership.injected)
    torn = sum(n.disk.stats.torn_crashes for n in nodes)
    if torn:
        out["torn-write"] += torn
    return out


@dataclass(slots=True)
class _EngineRng:
    """Each incarnation of a node gets its own engine random stream."""

    sched: Scheduler
    node_id: str

    def __call__(self, incarnation: int) -> random.Random:
        return self.sched.rng(f"engine/{self.node_id}/{incarnation}")
