"""Raft vs Multi-Paxos vs ZAB on real processes: same workload, same kill, one run.

    python bench/engines_cluster_bench.py                  # the README's table (~7 min)
    python bench/engines_cluster_bench.py --quick          # a smoke run (~15 s per engine)
    python bench/engines_cluster_bench.py --engines raft --json /tmp/cells.json

What it does, for each engine (`senate node --protocol raft|multipaxos|zab`): starts a
fresh 3-node cluster of real `senate node` processes (temp data dirs, real fsync,
127.0.0.1 only), then runs on it, in order:

1. a short warm-up (16 clients, not kept);
2. a write cell per client count (default 1 and 16): wrk with bench/wrk/senate_put.lua
   (PUT /v1/kv/{key}, 256-byte values, random keys from a 10,000-key space), one wrk
   process per node, connections split leader first (1 client talks to the leader),
   exactly as bench/cluster_bench.py does. Before and after the cell it reads every
   node's GET /v1/metrics, so a cell also reports peer messages (transport `sent`,
   all nodes) and WAL fsyncs (driver `syncs`, all nodes) per committed command
   (the leader's KV revision delta: one per applied write), and CPU per write
   (/proc, the three node processes);
3. a kill cell: 16 clients split over the two followers only (a wrk connection to a
   dead node would spin on connect errors), and at `--kill-at` seconds the leader
   process gets SIGKILL. Measured from the kill: **elect**, until a survivor's
   /v1/status says it is leader (polled every 10 ms); **first ok**, until the first
   200 to a write *sent* after the kill (bench/wrk/senate_put_kill.lua times it in
   the wrk threads on the same CLOCK_MONOTONIC). The cluster is then torn down.

Engines take turns: repeat r runs the engines in an order rotated by r, so drifting
machine load hits all alike. The summary takes, per engine and cell, the median over
repeats of writes/s, msgs/cmd, fsyncs/cmd, CPU and recovery times, and p50/p99
nearest-rank over every request of all repeats (raw latencies, see common.lua).

Rules this file keeps: every process it starts dies at the end, even on an error or
Ctrl-C (clusterkit.Procs: SIGTERM, then SIGKILL; PR_SET_PDEATHSIG as a last resort);
every wait is bounded; only loopback addresses; the temp dir is removed unless --keep.
Numbers go to stdout (and --json); tests run --quick and check only the structure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clusterkit import (
    NODE_MAIN,
    WRK_DIR,
    Cluster,
    Procs,
    cpu_seconds,
    http_json,
    parse_wrk,
    percentile_ms,
    run_wrk,
    split,
    start_senate,
)

ENGINES = ("raft", "multipaxos", "zab")
PUT = WRK_DIR / "senate_put.lua"
PUT_KILL = WRK_DIR / "senate_put_kill.lua"
VALUE_SIZE = 256
POLL = 0.01  # seconds between /v1/status polls after the kill


# ---- results ---------------------------------------------------------------------


@dataclass(slots=True)
class WriteCell:
    """One write cell of one repeat on one engine."""

    engine: str
    clients: int
    rep: int
    ok: int = 0
    bad: int = 0  # non-200 answers
    socket_errors: int = 0
    rate: float = 0.0  # ok writes per second (sum over wrk processes)
    p50_ms: float | None = None
    p99_ms: float | None = None
    commands: int = 0  # leader's KV revision delta
    messages: int = 0  # peer messages sent, all nodes
    fsyncs: int = 0  # WAL fsyncs, all nodes
    cpu_s: float = 0.0  # user+sys of the three node processes
    load: float = 0.0  # 1-minute load average after the cell
    lagging: list[str] = field(default_factory=list)  # nodes that applied < half the leader's
    hist: dict[int, int] = field(default_factory=dict, repr=False)

    @property
    def msgs_per_cmd(self) -> float | None:
        return self.messages / self.commands if self.commands else None

    @property
    def fsyncs_per_cmd(self) -> float | None:
        return self.fsyncs / self.commands if self.commands else None

    @property
    def cpu_us_per_write(self) -> float | None:
        return self.cpu_s / self.ok * 1e6 if self.ok else None


@dataclass(slots=True)
class KillCell:
    """The kill-the-leader cell of one repeat on one engine."""

    engine: str
    rep: int
    clients: int
    kill_at_s: float
    killed: str = ""  # node id of the leader that got SIGKILL
    new_leader: str | None = None
    elect_ms: float | None = None  # kill -> a survivor reports itself leader
    first_ok_ms: float | None = None  # kill -> first 200 to a write sent after the kill
    ok_after: int = 0  # 200s to writes sent after the kill
    bad_after: int = 0  # other answers to writes sent after the kill
    ok: int = 0  # every 200 of the cell
    socket_errors: int = 0
    load: float = 0.0


@dataclass(slots=True)
class EngineRun:
    engine: str
    rep: int
    writes: list[WriteCell] = field(default_factory=list)
    kill: KillCell | None = None
    error: str | None = None  # the engine could not be run (e.g. the flag is refused)


# ---- the cluster -----------------------------------------------------------------


def protocol_flag_supported() -> bool:
    """Whether this tree's `senate node` takes --protocol."""
    out = subprocess.run(
        [sys.executable, "-c", NODE_MAIN, "node", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return "--protocol" in out.stdout


def metrics(urls: list[str]) -> list[dict[str, Any] | None]:
    """GET /v1/metrics of every node (None for a node that does not answer)."""
    got: list[dict[str, Any] | None] = []
    for u in urls:
        try:
            got.append(http_json(f"{u}/v1/metrics"))
        except (OSError, ValueError):
            got.append(None)
    return got


def _sum(snap: list[dict[str, Any] | None], group: str, key: str) -> int:
    return sum(int(m[group][key]) for m in snap if m is not None)


def write_cell(
    cluster: Cluster, engine: str, rep: int, clients: int, duration: float, keys: int
) -> WriteCell:
    lead = cluster.leader()
    urls = cluster.ordered()
    cpu0 = [cpu_seconds(p) for p in cluster.pids]
    m0 = metrics(cluster.urls)
    targets = [(u, n) for u, n in zip(urls, split(clients, len(urls)), strict=True) if n]
    outs = run_wrk(PUT, targets, duration, [str(keys), str(VALUE_SIZE)])
    m1 = metrics(cluster.urls)
    cpu = sum(cpu_seconds(p) - c for p, c in zip(cluster.pids, cpu0, strict=True))
    cell = WriteCell(engine, clients, rep, cpu_s=cpu, load=os.getloadavg()[0])
    for out in outs:
        fields, hist = parse_wrk(out)
        cell.ok += fields["ok"]
        cell.bad += fields["bad"]
        cell.rate += fields["ok"] / (fields["duration_us"] / 1e6)
        cell.socket_errors += sum(fields[k] for k in ("connect", "read", "write", "timeout"))
        for b, n in hist.items():
            cell.hist[b] = cell.hist.get(b, 0) + n
    cell.p50_ms = percentile_ms(cell.hist, 50)
    cell.p99_ms = percentile_ms(cell.hist, 99)
    before, after = m0[lead], m1[lead]
    if before is not None and after is not None:
        cell.commands = int(after["revision"]) - int(before["revision"])
    if all(m is not None for m in m0 + m1):
        cell.messages = _sum(m1, "transport", "sent") - _sum(m0, "transport", "sent")
        cell.fsyncs = _sum(m1, "driver", "syncs") - _sum(m0, "driver", "syncs")
        applied = [
            int(b["driver"]["applied"]) - int(a["driver"]["applied"])
            for a, b in zip(m0, m1, strict=True)
        ]
        cell.lagging = [
            i for i, n in zip(cluster.ids, applied, strict=True) if 2 * n < applied[lead]
        ]
    return cell


def _watch_election(
    cluster: Cluster, survivors: list[int], killed: str, until: float
) -> tuple[float, str] | None:
    """Poll the survivors' /v1/status until one says it leads; (monotonic time, id)."""
    while time.monotonic() < until:
        for i in survivors:
            with contextlib.suppress(OSError, ValueError):
                st = http_json(f"{cluster.urls[i]}/v1/status", timeout=1.0)
                if st.get("role") == "leader" and st.get("id") != killed:
                    return time.monotonic(), str(st.get("id"))
        time.sleep(POLL)
    return None


def kill_cell(
    cluster: Cluster,
    engine: str,
    rep: int,
    clients: int,
    duration: float,
    kill_at: float,
    keys: int,
) -> KillCell:
    lead = cluster.leader()
    survivors = [i for i in range(len(cluster.urls)) if i != lead]
    targets = [
        (cluster.urls[i], n)
        for i, n in zip(survivors, split(clients, len(survivors)), strict=True)
        if n
    ]
    cell = KillCell(engine, rep, clients, kill_at, killed=cluster.ids[lead])
    start = time.monotonic() + 0.2  # wrk needs a moment to connect
    mark = start + kill_at
    seen: list[tuple[float, str] | None] = []

    def kill_and_watch() -> None:
        time.sleep(max(0.0, mark - time.monotonic()))
        os.kill(cluster.pids[lead], signal.SIGKILL)
        cluster.procs[lead].wait(timeout=10)
        seen.append(_watch_election(cluster, survivors, cell.killed, start + duration))

    args = [str(keys), str(VALUE_SIZE), str(int(mark * 1e6))]
    outs = run_wrk(PUT_KILL, targets, duration, args, during=kill_and_watch)
    cell.load = os.getloadavg()[0]
    first_ok = 0
    for out in outs:
        fields, _ = parse_wrk(out)
        cell.ok += fields["ok"]
        cell.socket_errors += sum(fields[k] for k in ("connect", "read", "write", "timeout"))
        cell.ok_after += fields.get("ok_after", 0)
        cell.bad_after += fields.get("bad_after", 0)
        f = fields.get("first_ok_us", 0)
        if f and (first_ok == 0 or f < first_ok):
            first_ok = f
    if first_ok:
        cell.first_ok_ms = (first_ok / 1e6 - mark) * 1000
    if seen and seen[0] is not None:
        cell.elect_ms = (seen[0][0] - mark) * 1000
        cell.new_leader = seen[0][1]
    return cell


def run_engine(
    engine: str,
    rep: int,
    root: Path,
    args: argparse.Namespace,
    flag: bool,
    log: Callable[[str], None],
) -> EngineRun:
    run = EngineRun(engine, rep)
    if not flag and engine != "raft":
        run.error = "senate node has no --protocol flag in this tree"
        log(f"{engine:10s} rep {rep}: skipped ({run.error})")
        return run
    procs = Procs()
    try:
        cluster = start_senate(
            procs, root / f"{engine}-r{rep}", protocol=engine if flag else None, name=engine
        )
        got = http_json(f"{cluster.urls[cluster.leader()]}/v1/status").get("protocol")
        if got != engine:
            run.error = f"asked for {engine}, the node runs {got!r}"
            log(f"{engine:10s} rep {rep}: {run.error}")
            return run
        if args.warmup > 0:
            write_cell(cluster, engine, rep, 16, args.warmup, args.keys)
        for n in args.clients:
            cell = write_cell(cluster, engine, rep, n, args.duration, args.keys)
            run.writes.append(cell)
            log(write_line(cell))
        run.kill = kill_cell(
            cluster, engine, rep, args.kill_clients, args.kill_duration, args.kill_at, args.keys
        )
        log(kill_line(run.kill))
    except (SystemExit, Exception) as exc:  # never elected, every node exited, wrk failed
        run.error = f"{type(exc).__name__}: {exc}"
        log(f"{engine:10s} rep {rep}: FAILED: {run.error}")
    finally:
        procs.close()
    return run


# ---- output ----------------------------------------------------------------------


def fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def write_line(c: WriteCell) -> str:
    return (
        f"{c.engine:10s} rep {c.rep} writes {c.clients:2d} clients: {c.rate:7.0f}/s  "
        f"p50 {fmt(c.p50_ms)} p99 {fmt(c.p99_ms)} ms  errors {c.bad}+{c.socket_errors}  "
        f"msgs/cmd {fmt(c.msgs_per_cmd)}  fsyncs/cmd {fmt(c.fsyncs_per_cmd)}  "
        f"cpu/write {fmt(c.cpu_us_per_write, '.0f')} us  load {c.load:.2f}"
        + (f"  LAGGING (applied < half the leader's): {','.join(c.lagging)}" if c.lagging else "")
    )


def kill_line(k: KillCell) -> str:
    return (
        f"{k.engine:10s} rep {k.rep} kill {k.killed} at {k.kill_at_s:g} s: new leader "
        f"{k.new_leader or '-'} after {fmt(k.elect_ms, '.0f')} ms, first ok write after "
        f"{fmt(k.first_ok_ms, '.0f')} ms; after the kill {k.ok_after} ok / {k.bad_after} "
        f"other answers  load {k.load:.2f}"
    )


def _med(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def summarize(runs: list[EngineRun], engines: list[str], clients: list[int]) -> dict[str, Any]:
    """Per engine: per client count the medians and pooled percentiles; the kill medians."""
    out: dict[str, Any] = {}
    for e in engines:
        mine = [r for r in runs if r.engine == e]
        entry: dict[str, Any] = {
            "runs": len(mine),
            "failed": [r.error for r in mine if r.error],
            "writes": {},
        }
        for n in clients:
            cells = [c for r in mine for c in r.writes if c.clients == n]
            hist: dict[int, int] = {}
            for c in cells:
                for b, k in c.hist.items():
                    hist[b] = hist.get(b, 0) + k
            entry["writes"][str(n)] = {
                "repeats": len(cells),
                "rate": _med([c.rate for c in cells]),
                "rates": [round(c.rate, 1) for c in cells],
                "p50_ms": percentile_ms(hist, 50),
                "p99_ms": percentile_ms(hist, 99),
                "msgs_per_cmd": _med([c.msgs_per_cmd for c in cells]),
                "fsyncs_per_cmd": _med([c.fsyncs_per_cmd for c in cells]),
                "cpu_us_per_write": _med([c.cpu_us_per_write for c in cells]),
                "errors": sum(c.bad + c.socket_errors for c in cells),
                "lagging_cells": sum(1 for c in cells if c.lagging),
            }
        kills = [r.kill for r in mine if r.kill is not None]
        entry["kill"] = {
            "repeats": len(kills),
            "elect_ms": _med([k.elect_ms for k in kills]),
            "first_ok_ms": _med([k.first_ok_ms for k in kills]),
            "elect_ms_all": [None if k.elect_ms is None else round(k.elect_ms) for k in kills],
            "first_ok_ms_all": [
                None if k.first_ok_ms is None else round(k.first_ok_ms) for k in kills
            ],
            "stalled": sum(1 for k in kills if k.first_ok_ms is None),
        }
        out[e] = entry
    return out


def _rate(w: dict[str, Any]) -> str:
    if w["rate"] is None:
        return "-"
    rates = w["rates"]
    if len(rates) > 1:
        return f"{w['rate']:,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"
    return f"{w['rate']:,.0f}"


def table(summary: dict[str, Any], clients: list[int]) -> str:
    head = "| engine |"
    rule = "|---|"
    for n in clients:
        c = f"{n} client{'s' if n > 1 else ''}"
        head += f" writes/s, {c} | p50 / p99 ms | msgs/cmd | fsyncs/cmd |"
        rule += "---:|---:|---:|---:|"
    big = str(max(clients))
    head += f" CPU us/write ({big}) | kill: elect ms | kill: first ok ms |"
    rule += "---:|---:|---:|"
    lines = [head, rule]
    for e, s in summary.items():
        row = f"| {e} |"
        for n in clients:
            w = s["writes"][str(n)]
            row += (
                f" {_rate(w)} | {fmt(w['p50_ms'])} / {fmt(w['p99_ms'])} "
                f"| {fmt(w['msgs_per_cmd'])} | {fmt(w['fsyncs_per_cmd'])} |"
            )
        k = s["kill"]
        row += (
            f" {fmt(s['writes'][big]['cpu_us_per_write'], '.0f')} "
            f"| {fmt(k['elect_ms'], '.0f')} | {fmt(k['first_ok_ms'], '.0f')} |"
        )
        lines.append(row)
    return "\n".join(lines)


def fsync_probe(directory: Path, count: int = 200) -> tuple[float, float, float]:
    """p50/p90/p99 ms of fdatasync after a 300-byte append, in `directory`."""
    path = directory / "fsync-probe"
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for _ in range(count):
            os.write(fd, b"x" * 300)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    times.sort()
    return times[count // 2], times[count * 9 // 10], times[count * 99 // 100]


# ---- the run ---------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated")
    ap.add_argument("--clients", default="1,16", help="write cells: client counts")
    # wrk takes whole seconds only.
    ap.add_argument("--duration", type=int, default=10, help="seconds per write cell")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of 16-client warm-up")
    ap.add_argument("--kill-clients", type=int, default=16)
    ap.add_argument("--kill-duration", type=int, default=10, help="seconds of the kill cell")
    ap.add_argument("--kill-at", type=float, default=3.0, help="seconds into the kill cell")
    ap.add_argument("--repeat", type=int, default=3, help="rounds over the engines")
    ap.add_argument("--keys", type=int, default=10_000, help="key space")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round, short cells")
    ap.add_argument("--json", type=Path, default=None, help="write every cell and the summary")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    args = ap.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.repeat = 1, 1, 1
        args.kill_duration, args.kill_at = 3, 1.0
    args.engines = [e for e in args.engines.split(",") if e]
    for e in args.engines:
        if e not in ENGINES:
            ap.error(f"unknown engine {e!r} (choose from {', '.join(ENGINES)})")
    args.clients = [int(x) for x in args.clients.split(",") if x]
    if not args.clients or args.kill_at >= args.kill_duration:
        ap.error("need at least one client count, and --kill-at < --kill-duration")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("engines_cluster_bench: wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="senate-engines-bench-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    runs: list[EngineRun] = []
    try:
        flag = protocol_flag_supported()
        load0 = os.getloadavg()
        probe = fsync_probe(root)
        print(
            f"engines {','.join(args.engines)}; {args.repeat} round(s); write cells "
            f"{args.duration:g} s at {','.join(map(str, args.clients))} clients; kill cell "
            f"{args.kill_duration:g} s, {args.kill_clients} clients, leader SIGKILLed at "
            f"{args.kill_at:g} s; data in {root}"
        )
        print(
            f"load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} on {os.cpu_count()} "
            f"cpus; fdatasync here p50 {probe[0]:.2f} p90 {probe[1]:.2f} p99 {probe[2]:.2f} ms",
            flush=True,
        )
        for rep in range(args.repeat):
            shift = rep % len(args.engines)
            for engine in args.engines[shift:] + args.engines[:shift]:
                runs.append(
                    run_engine(engine, rep, root, args, flag, lambda s: print(s, flush=True))
                )
        summary = summarize(runs, args.engines, args.clients)
        load1 = os.getloadavg()
        print()
        print(table(summary, args.clients))
        print()
        for e, s in summary.items():
            k = s["kill"]
            print(
                f"{e}: kill repeats elect ms {k['elect_ms_all']}, first ok ms "
                f"{k['first_ok_ms_all']}; writes/s per repeat "
                + "; ".join(f"{n}: {s['writes'][str(n)]['rates']}" for n in args.clients)
            )
            for err in s["failed"]:
                print(f"{e}: FAILED run: {err.strip().splitlines()[-1]}")
        print(f"load average at the end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
        if args.json is not None:
            doc = {
                "config": {k: v for k, v in vars(args).items() if k not in ("json",)}
                | {"protocol_flag": flag, "load_start": load0, "load_end": load1},
                "fsync_probe_ms": probe,
                "summary": summary,
                "runs": [
                    {
                        "engine": r.engine,
                        "rep": r.rep,
                        "error": r.error,
                        "writes": [
                            {k: v for k, v in asdict(c).items() if k != "hist"}
                            | {
                                "msgs_per_cmd": c.msgs_per_cmd,
                                "fsyncs_per_cmd": c.fsyncs_per_cmd,
                                "cpu_us_per_write": c.cpu_us_per_write,
                            }
                            for c in r.writes
                        ],
                        "kill": asdict(r.kill) if r.kill is not None else None,
                    }
                    for r in runs
                ],
            }
            args.json.write_text(json.dumps(doc, indent=1, default=str))
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    failed = any(r.error for r in runs) or any(
        r.kill is not None and r.kill.first_ok_ms is None for r in runs
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
