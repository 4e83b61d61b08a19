"""Raft vs Multi-Paxos vs ZAB on the deterministic simulator: same workload, same
seeds, same fault schedule, one run (issue 6, done-means 3).

Scenarios (5 nodes, 20 closed-loop clients, the sim's op mix, seeds 1..N each):
- steady       no faults;
- leader-kill  no faults but one: the leader is crashed at 500 ms simulated (the
               first moment one exists from then on) and restarted 1 s later;
- all-fixed    the standard fault mix with every engine-dependent choice of the
               nemesis off and the active phase ending at 1.5 s: the same faults at
               the same times for every engine (checked and printed per seed);
- all          the simulator's standard mix (`--faults all`), whose nemesis adapts to
               the engine (aims at the leader, knocks out new leaders, crashes at the
               next fsync): same seeds, but not the same schedule.

What it measures, per engine and per scenario (median over the seeds):
- writes/s   ok writes (write, cas, delete) invoked after a 500 ms warm-up, per
             SIMULATED second from the warm-up to the last completion;
- p50/p99    latency of those ok writes, invoke -> ok, in simulated milliseconds;
- msgs/cmd   messages the engines emitted (send_now + messages of every Ready, all
             nodes, heartbeats and reads included) per committed command;
- fsyncs/cmd Readies with must_sync (one fsync each, all nodes) per committed command;
- committed command = a distinct NORMAL log entry seen in some Ready.committed;
- recovery   (leader-kill) simulated ms from the crash to: a new leader reported
             (elect), its first commit (commit), the first ok write (ok);
- cpu s/run  CPU seconds of one simulated run (process_time): secondary, machine-bound.

Every number but the CPU column is in the simulator's clock, so it is deterministic
and independent of the (shared) machine: the fair way to compare three protocols on
one schedule. Absolute values depend on the simulated latencies (network hop, 2 ms
fsync, 10 ms tick), so read them as ratios between engines.

How it gets data the simulator does not expose, without editing senate/sim:
- `senate.sim.runner.engine_factory` (the name the runner looks up) is replaced, in
  this process only and only while a run lasts, by one that wraps every engine in a
  counting proxy (`_Counting`);
- `senate.sim.runner.Nemesis` is replaced the same way by a function that builds the
  stock nemesis and, for leader-kill and all-fixed, wraps it (`_LeaderKill`,
  `_FixedWindow`); everything else (cluster, clients, history check) is the stock
  runner, and every run's history still goes through the linearizability checker.

Run:  python bench/engines_bench.py            (the table bench/README.md keeps)
      python bench/engines_bench.py --quick    (one seed, fewer ops: a smoke test)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import senate.sim.runner as runner
from senate.consensus.engine import Engine, EngineFactory
from senate.consensus.types import (
    ConfChange,
    DurableState,
    EntryKind,
    Membership,
    Message,
    Ready,
    Role,
    Status,
)
from senate.sim.faults import DEFAULT_FAULTS, FaultConfig
from senate.sim.node import Node, NodeState
from senate.sim.runner import SimConfig, SimResult, run_simulation
from senate.sim.scheduler import US_PER_MS, US_PER_S, Scheduler

ENGINES: tuple[str, ...] = ("raft", "multipaxos", "zab")
WRITES = frozenset({"write", "cas", "delete"})
# Ops invoked before this are left out of writes/s and p50/p99: they wait for the
# first election, which is the recovery column's business, not steady-state latency.
WARMUP_US = 500 * US_PER_MS
# Closed-loop clients: enough of them, thinking briefly, that batching can matter.
CLIENTS = 20
THINK_US = 2 * US_PER_MS


# --- counting, through a wrapped engine factory ---------------------------------------


@dataclass(slots=True)
class _Probe:
    """What the counting engines of one run saw."""

    messages: int = 0
    by_type: Counter[str] = field(default_factory=Counter)  # message type -> count
    fsyncs: int = 0
    committed: set[int] = field(default_factory=set)  # indices of committed NORMAL entries
    now: Callable[[], int] | None = None  # the run's clock, when the nemesis handed it over
    # node id -> first time it committed a NORMAL entry while leading, after `since`
    since: int | None = None
    victim: str | None = None
    first_new_leader_commit: int | None = None


class _Counting:
    """An Engine that forwards everything and counts what its Readies carry."""

    def __init__(self, inner: Engine, probe: _Probe) -> None:
        self.inner = inner
        self.node_id = inner.node_id
        self.probe = probe

    def tick(self) -> None:
        self.inner.tick()

    def step(self, message: Message) -> None:
        self.inner.step(message)

    def propose(self, data: bytes) -> None:
        self.inner.propose(data)

    def propose_membership(self, change: ConfChange) -> None:
        self.inner.propose_membership(change)

    def read_index(self, ctx: bytes) -> None:
        self.inner.read_index(ctx)

    def transfer_leadership(self, target: str) -> None:
        self.inner.transfer_leadership(target)

    def has_ready(self) -> bool:
        return self.inner.has_ready()

    def ready(self) -> Ready:
        rd = self.inner.ready()
        probe = self.probe
        probe.messages += len(rd.send_now) + len(rd.messages)
        for msg in (*rd.send_now, *rd.messages):
            # Each protocol's message has a `type` enum; the driver knows only src/dst.
            kind = getattr(msg, "type", None)
            probe.by_type[getattr(kind, "name", type(msg).__name__)] += 1
        if rd.must_sync:
            probe.fsyncs += 1
        return rd

    def advance(self, ready: Ready) -> None:
        probe = self.probe
        normal = [e.index for e in ready.committed if e.kind is EntryKind.NORMAL]
        probe.committed.update(normal)
        # The node calls advance after it applied `ready`: the commit is served now.
        if (
            normal
            and probe.since is not None
            and probe.first_new_leader_commit is None
            and probe.now is not None
            and self.node_id != probe.victim
            and self.inner.status().role is Role.LEADER
        ):
            probe.first_new_leader_commit = probe.now()
        self.inner.advance(ready)

    def compact(self, index: int, data: bytes) -> None:
        self.inner.compact(index, data)

    def status(self) -> Status:
        return self.inner.status()


def _counting_factory(inner: EngineFactory, probe: _Probe) -> EngineFactory:
    def make(
        node_id: str, membership: Membership, durable: DurableState, rng: random.Random
    ) -> Engine:
        return _Counting(inner(node_id, membership, durable, rng), probe)

    return make


# --- the leader-kill nemesis ----------------------------------------------------------


class _LeaderKill:
    """Stands in for faults.Nemesis: crash the leader once at `kill_at` (or as soon
    after as a leader exists), restart it `down_us` later. It wraps a stock nemesis
    built with the run's (empty) fault config and forwards whatever else the runner
    asks of it, so runner.run_simulation drives it unchanged."""

    kill_at_us = WARMUP_US
    down_us = 1_000 * US_PER_MS
    retry_us = 5 * US_PER_MS

    def __init__(self, inner: Any, sched: Scheduler, nodes: list[Node]) -> None:
        self.inner = inner
        self.sched = sched
        self.nodes = nodes
        self.active = False
        self.probe = _CURRENT_PROBE[0]
        self.probe.now = lambda: sched.now
        self.crashed_at: int | None = None
        self.victim: Node | None = None
        self.new_leader_at: int | None = None
        self.first_commit_at: int | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def start(self) -> None:
        self.inner.start()
        self.active = True
        self.sched.at(self.kill_at_us, "bench kill-leader", self._kill)

    def _leader(self) -> Node | None:
        best: tuple[int, Node] | None = None
        for node in self.nodes:
            if node.state is NodeState.UP and node.engine is not None:
                st = node.engine.status()
                if st.role is Role.LEADER and (best is None or st.term > best[0]):
                    best = (st.term, node)
        return best[1] if best else None

    def _kill(self) -> None:
        if not self.active:
            return
        leader = self._leader()
        if leader is None:  # mid-election: try again shortly
            self.sched.after(self.retry_us, "bench kill-leader", self._kill)
            return
        self.victim = leader
        self.crashed_at = self.sched.now
        self.probe.since = self.sched.now
        self.probe.victim = leader.id
        self.inner.injected["leader-crash"] += 1
        leader.crash()
        self.sched.after(self.down_us, "bench restart", leader.restart)

    def on_new_leader(self, node_id: str, term: int) -> None:
        self.inner.on_new_leader(node_id, term)
        if self.crashed_at is not None and self.new_leader_at is None:
            self.new_leader_at = self.sched.now

    def on_leader_commit(self, node_id: str, term: int) -> None:
        # The invariants call this when a leader first advances its commit index in
        # its term: for a new leader, the moment it can serve (Raft's and Paxos's
        # no-op / re-proposed slots, ZAB's initial history or first proposal).
        self.inner.on_leader_commit(node_id, term)
        victim = self.victim
        if victim is not None and self.first_commit_at is None and node_id != victim.id:
            self.first_commit_at = self.sched.now

    def heal(self) -> None:
        self.active = False
        self.inner.heal()  # restarts the victim if it is still down


class _FixedWindow:
    """Wraps the stock nemesis so its active phase ends at a fixed simulated time.

    The runner heals when 70% of the ops are issued, which comes sooner for an engine
    that serves faster, so the engines would see different-length prefixes of the
    same schedule. Healing at `heal_at_us` instead (or when the runner asks, if
    later) gives every engine the whole same window of faults.
    """

    heal_at_us = 1_500 * US_PER_MS

    def __init__(self, inner: Any, sched: Scheduler) -> None:
        self.inner = inner
        self.sched = sched
        self.healed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def start(self) -> None:
        self.inner.start()
        self.sched.at(self.heal_at_us, "bench heal", self._heal)

    def _heal(self) -> None:
        if not self.healed:
            self.healed = True
            self.inner.heal()

    def heal(self) -> None:
        if self.sched.now >= self.heal_at_us:
            self._heal()

    # The stock hooks draw from the nemesis's random stream on every new leader and
    # first commit even with churn and strikes off: that would shift the schedule by
    # engine. With those faults off they do nothing else, so they are not forwarded.
    def on_new_leader(self, node_id: str, term: int) -> None:
        pass

    def on_leader_commit(self, node_id: str, term: int) -> None:
        pass


# The probe of the run in progress (the nemesis is built by the runner, not by us).
_CURRENT_PROBE: list[_Probe] = [_Probe()]
_LAST_NEMESIS: list[Any] = [None]


@contextmanager
def _patched(probe: _Probe, scenario: str) -> Iterator[None]:
    """Swap the runner's engine factory (and nemesis) for this process, for one run."""
    # Through the module's namespace: the runner's imported names are not its public API.
    ns = vars(runner)
    orig_factory: Callable[..., EngineFactory] = ns["engine_factory"]
    orig_nemesis: Callable[..., Any] = ns["Nemesis"]

    def factory(protocol: str, mutant: str | None = None, config: Any = None) -> EngineFactory:
        return _counting_factory(orig_factory(protocol, mutant, config), probe)

    def nemesis(*args: Any) -> Any:
        made = orig_nemesis(*args)
        # args: (config, sched, net, nodes, rng), as the runner passes them
        if scenario == "leader-kill":
            made = _LeaderKill(made, args[1], args[3])
        elif scenario == "all-fixed":
            made = _FixedWindow(made, args[1])
        _LAST_NEMESIS[0] = made
        return made

    _CURRENT_PROBE[0] = probe
    ns["engine_factory"], ns["Nemesis"] = factory, nemesis
    try:
        yield
    finally:
        ns["engine_factory"], ns["Nemesis"] = orig_factory, orig_nemesis


# --- one run, summarized --------------------------------------------------------------


@dataclass(slots=True)
class RunStats:
    engine: str
    seed: int
    ok: bool
    verdict: str
    writes_per_s: float
    p50_ms: float
    p99_ms: float
    msgs_per_cmd: float
    fsyncs_per_cmd: float
    committed: int
    ops: dict[str, int]
    faults: dict[str, int]
    leaders: int
    cpu_s: float
    recover_commit_ms: float | None = None
    recover_cmd_ms: float | None = None
    recover_ok_ms: float | None = None
    recover_elect_ms: float | None = None
    by_type: Counter[str] = field(default_factory=Counter)


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def _write_latencies(
    history: list[dict[str, Any]], warmup_s: float
) -> tuple[list[float], list[float], float]:
    """(latency s of each ok write invoked after the warm-up, its completion time s,
    the span s from the warm-up to the last completion)."""
    open_at: dict[int, float] = {}
    lat: list[float] = []
    done: list[float] = []
    last = warmup_s
    for ev in history:
        t = float(ev["time"])
        if ev["type"] == "invoke":
            open_at[ev["process"]] = t
            continue
        start = open_at.pop(ev["process"])
        last = max(last, t)
        if ev["type"] == "ok" and ev["f"] in WRITES and start >= warmup_s:
            lat.append(t - start)
            done.append(t)
    return lat, done, max(last - warmup_s, 1e-9)


SCENARIOS: tuple[str, ...] = ("steady", "leader-kill", "all-fixed", "all")


def _faults(scenario: str) -> FaultConfig:
    """The fault config of a scenario.

    `all` is the simulator's standard mix, whose nemesis adapts to the engine (aims
    at the current leader, knocks out fresh leaders, waits for a node's next fsync),
    so its schedule differs per engine. `all-fixed` is the same mix with every
    engine-dependent choice off: then the nemesis's draws, and so the schedule of
    crashes, pauses and partitions, are a function of the seed alone.
    """
    if scenario not in ("all", "all-fixed"):
        return FaultConfig.parse("none")
    # The mix of bench/README's table: without the membership nemesis (in `all`
    # since), which resizes the cluster mid-run and asks each engine's leader, so
    # messages and fsyncs per command would not compare across engines or runs.
    cfg = FaultConfig(frozenset(k for k in DEFAULT_FAULTS if k != "membership"))
    if scenario == "all-fixed":
        cfg.target_leader_prob = 0.0
        cfg.churn_prob = 0.0
        cfg.first_commit_strike_prob = 0.0
        cfg.crash_at_fsync_prob = 0.0
        cfg.vote_crash_prob = 0.0
    return cfg


def run_one(engine: str, seed: int, scenario: str, ops: int) -> RunStats:
    from senate.raft import RaftConfig

    faults = _faults(scenario)
    # Fixed engine knobs: the sim draws Raft's batch/window from the seed (knob fuzzing,
    # mostly max_msg_entries=1), which would handicap Raft alone. Defaults for all three.
    engine_cfg: Any = RaftConfig() if engine == "raft" else None
    cfg = SimConfig(
        seed=seed,
        nodes=5,
        ops=ops,
        faults=faults,
        protocol=engine,
        engine_config=engine_cfg,
        clients=CLIENTS,
        keys=8,
        think_us=THINK_US,
        # leader kill: no quiet phase, the bench's own nemesis heals by itself
        quiet_share=0.0 if scenario == "leader-kill" else 0.3,
        max_time_us=600 * US_PER_S,
    )
    probe = _Probe()
    t0 = time.process_time()
    with _patched(probe, scenario):
        res: SimResult = run_simulation(cfg)
    cpu = time.process_time() - t0
    lat, done, span = _write_latencies(res.history, WARMUP_US / US_PER_S)
    committed = max(len(probe.committed), 1)
    stats = RunStats(
        engine=engine,
        seed=seed,
        ok=res.ok,
        verdict=res.verdict if not res.violations else res.failure(),
        writes_per_s=len(lat) / span,
        p50_ms=_percentile(lat, 50) * 1e3,
        p99_ms=_percentile(lat, 99) * 1e3,
        msgs_per_cmd=probe.messages / committed,
        fsyncs_per_cmd=probe.fsyncs / committed,
        committed=len(probe.committed),
        ops=res.ops,
        faults=res.faults,
        leaders=res.leaders_elected,
        cpu_s=cpu,
        by_type=probe.by_type,
    )
    if scenario == "leader-kill":
        nem = _LAST_NEMESIS[0]
        assert isinstance(nem, _LeaderKill)
        if nem.crashed_at is not None:
            crash = nem.crashed_at
            if nem.first_commit_at is not None:
                stats.recover_commit_ms = (nem.first_commit_at - crash) / US_PER_MS
            if probe.first_new_leader_commit is not None:
                stats.recover_cmd_ms = (probe.first_new_leader_commit - crash) / US_PER_MS
            if nem.new_leader_at is not None:
                stats.recover_elect_ms = (nem.new_leader_at - crash) / US_PER_MS
            after = [t for t in done if t * US_PER_S >= crash]
            if after:
                stats.recover_ok_ms = (min(after) * US_PER_S - crash) / US_PER_MS
    return stats


# --- the table ------------------------------------------------------------------------


def _med(values: list[float | None]) -> float | None:
    have = [v for v in values if v is not None]
    return statistics.median(have) if have else None


def _fmt(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{v:,.{digits}f}"


def table(results: dict[tuple[str, str], list[RunStats]], scenarios: list[str]) -> str:
    """A markdown table: one row per (scenario, engine), medians over the seeds."""
    head = (
        "| scenario | engine | writes/s | p50 ms | p99 ms | msgs/cmd | fsyncs/cmd "
        "| recover: elect ms | recover: commit ms | recover: ok ms | leaders "
        "| ok/fail/info | faults | checked | cpu s/run |"
    )
    rule = "|" + "|".join(["---"] * 2 + ["---:"] * 10 + ["---", "---", "---:"]) + "|"
    lines = [head, rule]
    for scenario in scenarios:
        for engine in ENGINES:
            runs = results[(scenario, engine)]
            ops = Counter[str]()
            faults = Counter[str]()
            for r in runs:
                ops.update(r.ops)
                faults.update(r.faults)
            n_ok = sum(r.ok for r in runs)
            torn = faults.pop("torn-write", 0)
            fault_text = f"{sum(faults.values())}" + (f" +{torn} torn" if torn else "")
            recover_e = _med([r.recover_elect_ms for r in runs])
            recover_c = _med([r.recover_commit_ms for r in runs])
            recover_o = _med([r.recover_ok_ms for r in runs])
            kill = scenario == "leader-kill"
            lines.append(
                f"| {scenario} | {engine} "
                f"| {_fmt(_med([r.writes_per_s for r in runs]))} "
                f"| {_fmt(_med([r.p50_ms for r in runs]))} "
                f"| {_fmt(_med([r.p99_ms for r in runs]))} "
                f"| {_fmt(_med([r.msgs_per_cmd for r in runs]), 2)} "
                f"| {_fmt(_med([r.fsyncs_per_cmd for r in runs]), 2)} "
                f"| {_fmt(recover_e, 0) if kill else '-'} "
                f"| {_fmt(recover_c, 0) if kill else '-'} "
                f"| {_fmt(recover_o, 0) if kill else '-'} "
                f"| {_fmt(_med([float(r.leaders) for r in runs]), 0)} "
                f"| {ops['ok']}/{ops['fail']}/{ops['info']} "
                f"| {fault_text} "
                f"| {n_ok}/{len(runs)} "
                f"| {_fmt(_med([r.cpu_s for r in runs]), 2)} |"
            )
    return "\n".join(lines)


def _same_schedule(
    results: dict[tuple[str, str], list[RunStats]], scenario: str, seeds: list[int]
) -> str:
    """Whether the nemesis injected the same faults into every engine on each seed.

    Torn writes are left out: whether a crash tears a write depends on what the
    engine had not yet synced, not on the schedule.
    """
    differ = []
    for i, seed in enumerate(seeds):
        counts = [
            {k: v for k, v in results[(scenario, e)][i].faults.items() if k != "torn-write"}
            for e in ENGINES
        ]
        if any(c != counts[0] for c in counts):
            differ.append(seed)
    if not differ:
        return f"yes ({len(seeds)}/{len(seeds)} seeds)"
    return f"no on seeds {differ} (the nemesis adapts to the engine's state)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--seeds", type=int, default=10, help="seeds 1..N for every scenario")
    ap.add_argument("--ops", type=int, default=2000, help="ops per run (all clients)")
    ap.add_argument("--quick", action="store_true", help="1 seed, 1000 ops")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma list of scenarios")
    ap.add_argument("--detail", action="store_true", help="also print every run")
    args = ap.parse_args(argv)
    seeds = list(range(1, (1 if args.quick else args.seeds) + 1))
    ops = 1000 if args.quick else args.ops
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    for s in scenarios:
        if s not in SCENARIOS:
            ap.error(f"unknown scenario {s!r}")
    results: dict[tuple[str, str], list[RunStats]] = {}
    started = time.process_time()
    for scenario in scenarios:
        for engine in ENGINES:
            runs = [run_one(engine, seed, scenario, ops) for seed in seeds]
            results[(scenario, engine)] = runs
            for r in runs:
                if args.detail or not r.ok:
                    print(
                        f"  {scenario:11} {engine:10} seed={r.seed} ok={r.ok} "
                        f"w/s={r.writes_per_s:.1f} p50={r.p50_ms:.1f} p99={r.p99_ms:.1f} "
                        f"msgs/cmd={r.msgs_per_cmd:.2f} fsyncs/cmd={r.fsyncs_per_cmd:.2f} "
                        f"committed={r.committed} leaders={r.leaders} ops={r.ops} "
                        f"faults={r.faults} rec_elect={_fmt(r.recover_elect_ms, 0)} "
                        f"rec_commit={_fmt(r.recover_commit_ms, 0)} "
                        f"rec_cmd={_fmt(r.recover_cmd_ms, 0)} "
                        f"rec_ok={_fmt(r.recover_ok_ms, 0)} cpu={r.cpu_s:.2f}"
                        + ("" if r.ok else f" FAILED: {r.verdict}"),
                        flush=True,
                    )
    print(
        f"\n{len(seeds)} seeds x {ops} ops, 5 nodes, {CLIENTS} clients; medians over seeds; "
        f"simulated time except cpu s/run (total cpu {time.process_time() - started:.0f} s)\n"
    )
    print(table(results, scenarios))
    if "steady" in scenarios:
        print("\nsteady: messages per committed command by type (all seeds pooled)\n")
        for engine in ENGINES:
            runs = results[("steady", engine)]
            pooled = Counter[str]()
            for r in runs:
                pooled.update(r.by_type)
            cmds = max(sum(r.committed for r in runs), 1)
            parts = [
                f"{name} {n / cmds:.2f}" for name, n in pooled.most_common() if n / cmds >= 0.01
            ]
            print(f"  {engine:10} " + ", ".join(parts))
    print("\nsame fault schedule on every engine, per seed (torn writes aside):")
    for scenario in scenarios:
        print(f"  {scenario:11} {_same_schedule(results, scenario, seeds)}")
    bad = [r for runs in results.values() for r in runs if not r.ok]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
