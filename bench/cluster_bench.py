"""Senate vs etcd, 3 nodes each, on loopback, driven by wrk in the same run.

    python bench/cluster_bench.py                   # the README's table (~2 min)
    python bench/cluster_bench.py --duration 3      # a quick look
    python bench/cluster_bench.py --profile-dir /tmp/prof   # + a py-spy pass

What it does: starts a 3-member etcd (Debian's etcd 3.4, its default fsync, data in
a temp dir) and a 3-node Senate (real `senate node` processes, temp data dirs),
both on 127.0.0.1 only, and keeps both up for the whole run. Cells run
interleaved (Senate then etcd for each cell) so drifting machine load hits both
alike. Each cell runs one wrk process per node, the connections split between
them leader first (1 client: the leader only); followers forward (Senate) or
proxy (etcd) to the leader. Cells: writes at 1, 16, 64 clients and linearizable
reads at 16 clients, 256-byte values, random keys from a key space that is
prefilled before the reads.

Latency: p50/p99 come from raw per-request latencies measured in the wrk Lua
scripts (bench/wrk/common.lua explains why wrk's own histogram is not used: wrk
4.1 applies its coordinated-omission correction to it before done()). Each wrk
runs one connection per thread for that reason. wrk's corrected p99 is kept in the
JSON output for comparison.

Rules this file keeps: every process it starts dies at the end, even on an error
or Ctrl-C (SIGTERM, then SIGKILL; PR_SET_PDEATHSIG as a last resort); every wait is
bounded; only loopback addresses; the temp dir is removed unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from clusterkit import (
    HOST,
    WRK_DIR,
    Cluster,
    Procs,
    cpu_seconds,
    free_ports,
    http_json,
    parse_wrk,
    percentile_ms,
    run_wrk,
    split,
    start_senate,
    wait_for,
)
from senate.benchtool.driver import BenchConfig, prefill
from senate.benchtool.profile import summarize_profile

# Process helpers, wrk running and histogram merging live in bench/clusterkit.py
# (shared with engines_cluster_bench.py).


def start_etcd(procs: Procs, root: Path) -> Cluster:
    exe = shutil.which("etcd")
    if exe is None:
        raise SystemExit("cluster_bench: etcd not found (apt-get install etcd-server)")
    ports = free_ports(6)
    peer = ports[:3]
    client = ports[3:]
    initial = ",".join(f"e{i + 1}=http://{HOST}:{p}" for i, p in enumerate(peer))
    pids = []
    for i in range(3):
        argv = [exe, "--name", f"e{i + 1}", "--data-dir", str(root / f"etcd-e{i + 1}")]
        argv += ["--listen-client-urls", f"http://{HOST}:{client[i]}"]
        argv += ["--advertise-client-urls", f"http://{HOST}:{client[i]}"]
        argv += ["--listen-peer-urls", f"http://{HOST}:{peer[i]}"]
        argv += ["--initial-advertise-peer-urls", f"http://{HOST}:{peer[i]}"]
        argv += ["--initial-cluster", initial, "--initial-cluster-state", "new"]
        argv += ["--initial-cluster-token", "senate-bench", "--log-level", "warn"]
        argv += ["--logger", "zap"]
        pids.append(procs.spawn(argv, root / f"etcd-e{i + 1}.log").pid)
    urls = [f"http://{HOST}:{p}" for p in client]

    def leader() -> int:
        def find() -> int | None:
            for i, u in enumerate(urls):
                st = http_json(f"{u}/v3/maintenance/status", b"{}")
                if st.get("leader") and st["leader"] == st["header"]["member_id"]:
                    return i + 1
            return None

        return int(wait_for("an etcd leader", find)) - 1

    cluster = Cluster("etcd", urls, pids, leader)
    cluster.leader()
    return cluster


# ---- one cell --------------------------------------------------------------------


@dataclass(slots=True)
class Cell:
    system: str
    op: str  # "write" | "read"
    clients: int
    ok: int = 0
    bad: int = 0
    rate: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    wrk_p99_ms: float | None = None  # wrk's CO-corrected p99 (largest over processes)
    socket_errors: int = 0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cpu_us_per_op: float | None = None  # user+sys CPU of all 3 nodes / successful ops
    leader_cpu_us_per_op: float | None = None
    entries_per_fsync: float | None = None  # Senate leader: synced entries / fsyncs
    run_rates: list[float] = field(default_factory=list)  # each repeat's ops/s
    node_p50_ms: list[float | None] = field(default_factory=list)  # per wrk, leader first
    hist: dict[int, int] = field(default_factory=dict, repr=False)  # raw latency buckets


def combine(runs: list[Cell]) -> Cell:
    """One cell from repeats: median ops/s and CPU, percentiles over every sample."""
    first = runs[0]
    out = Cell(first.system, first.op, first.clients)
    for r in runs:
        out.ok += r.ok
        out.bad += r.bad
        out.socket_errors += r.socket_errors
        for b, n in r.hist.items():
            out.hist[b] = out.hist.get(b, 0) + n
    out.run_rates = [r.rate for r in runs]
    out.rate = statistics.median(out.run_rates)
    out.p50_ms = percentile_ms(out.hist, 50)
    out.p99_ms = percentile_ms(out.hist, 99)
    out.wrk_p99_ms = max((r.wrk_p99_ms or 0.0) for r in runs)
    loads = [r.load for r in runs]
    out.load = (
        sum(x[0] for x in loads) / len(loads),
        sum(x[1] for x in loads) / len(loads),
        sum(x[2] for x in loads) / len(loads),
    )

    def med(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return statistics.median(known) if known else None

    out.cpu_us_per_op = med([r.cpu_us_per_op for r in runs])
    out.leader_cpu_us_per_op = med([r.leader_cpu_us_per_op for r in runs])
    out.entries_per_fsync = med([r.entries_per_fsync for r in runs])
    return out


def senate_sync_stats(url: str) -> tuple[int, int]:
    """(fsyncs, synced entries) so far on the Senate node at `url`, or zeros."""
    try:
        stats = http_json(f"{url}/v1/status").get("stats", {})
    except (OSError, ValueError):
        return 0, 0
    return int(stats.get("syncs", 0)), int(stats.get("synced_entries", 0))


def run_cell(
    cluster: Cluster, op: str, clients: int, duration: float, keys: int, leader_only: bool = False
) -> Cell:
    script = WRK_DIR / f"{cluster.name}_{'put' if op == 'write' else 'get'}.lua"
    urls = cluster.ordered()[:1] if leader_only else cluster.ordered()
    lead = cluster.leader()
    cpu0 = [cpu_seconds(p) for p in cluster.pids]
    sync0 = senate_sync_stats(urls[0]) if cluster.name == "senate" else (0, 0)
    targets = [(u, n) for u, n in zip(urls, split(clients, len(urls)), strict=True) if n]
    outs = run_wrk(script, targets, duration, [str(keys), "256"])
    cpu = [cpu_seconds(p) - c0 for p, c0 in zip(cluster.pids, cpu0, strict=True)]
    sync1 = senate_sync_stats(urls[0]) if cluster.name == "senate" else (0, 0)
    cell = Cell(cluster.name, op, clients, load=os.getloadavg())
    merged: dict[int, int] = {}
    wrk_p99 = 0
    for out in outs:
        fields, hist = parse_wrk(out)
        cell.ok += fields["ok"]
        cell.bad += fields["bad"]
        cell.rate += fields["ok"] / (fields["duration_us"] / 1e6)
        cell.socket_errors += sum(fields[k] for k in ("connect", "read", "write", "timeout"))
        wrk_p99 = max(wrk_p99, fields["wrk_p99_us"])
        cell.node_p50_ms.append(percentile_ms(hist, 50))
        for b, n in hist.items():
            merged[b] = merged.get(b, 0) + n
    cell.hist = merged
    cell.p50_ms = percentile_ms(merged, 50)
    cell.p99_ms = percentile_ms(merged, 99)
    cell.wrk_p99_ms = wrk_p99 / 1000.0
    if cell.ok:
        cell.cpu_us_per_op = sum(cpu) / cell.ok * 1e6
        cell.leader_cpu_us_per_op = cpu[lead] / cell.ok * 1e6
    if sync1[0] > sync0[0]:
        cell.entries_per_fsync = (sync1[1] - sync0[1]) / (sync1[0] - sync0[0])
    return cell


# ---- the run ---------------------------------------------------------------------


def profile_pass(
    cluster: Cluster, out_dir: Path, duration: float, keys: int, cells: list[tuple[str, int]]
) -> Iterator[str]:
    """Senate cells rerun with py-spy sampling the leader (their numbers are not kept).

    py-spy runs --nonblocking (it does not pause the node to sample), with --idle and
    --threads, so time the event loop spends waiting in epoll and the WAL thread
    spends in fsync show up as such; the output is collapsed stacks (-f raw).
    """
    pyspy = shutil.which("py-spy")
    if pyspy is None:
        yield "py-spy not found (pip install py-spy); no profile"
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    pid = cluster.pids[cluster.leader()]
    for op, clients in cells:
        path = out_dir / f"senate-leader-{op}s-{clients}c.txt"
        argv = [pyspy, "record", "-p", str(pid), "-d", str(int(duration)), "-r", "250"]
        argv += ["-f", "raw", "-o", str(path), "--nonblocking", "--idle", "--threads"]
        spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            time.sleep(0.5)
            cell = run_cell(cluster, op, clients, duration, keys)
            _, err = spy.communicate(timeout=duration + 30)
        finally:
            if spy.poll() is None:
                spy.kill()
                spy.wait()
        note = "" if spy.returncode == 0 else f" (py-spy failed: {err.decode()[-200:]!r})"
        yield f"profiled {op}s at {clients} clients ({cell.rate:.0f}/s under py-spy): {path}{note}"


def fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def cell_line(cell: Cell) -> str:
    """One run of one cell, as printed while the bench goes."""
    line = (
        f"{cell.system:6s} {cell.op}s {cell.clients:3d} clients: {cell.rate:8.0f}/s  "
        f"p50 {fmt(cell.p50_ms)} ms  p99 {fmt(cell.p99_ms)} ms  "
        f"(wrk corrected p99 {fmt(cell.wrk_p99_ms)})  errors {cell.bad}+{cell.socket_errors}  "
        f"load {cell.load[0]:.2f}  cpu/op {fmt(cell.cpu_us_per_op, '.0f')} us "
        f"(leader {fmt(cell.leader_cpu_us_per_op, '.0f')})"
    )
    if cell.entries_per_fsync:
        line += f"  entries/fsync {cell.entries_per_fsync:.1f}"
    if len(cell.node_p50_ms) > 1:
        line += "  p50 per node (leader first) " + "/".join(fmt(x) for x in cell.node_p50_ms)
    return line


def _rate(c: Cell | None) -> str:
    if c is None:
        return "-"
    if len(c.run_rates) > 1:
        return f"{c.rate:,.0f} ({min(c.run_rates):,.0f}-{max(c.run_rates):,.0f})"
    return f"{c.rate:,.0f}"


def report(cells: list[Cell]) -> str:
    by = {(c.system, c.op, c.clients): c for c in cells}
    lines = [
        "| cell | Senate ops/s, median (range) | Senate p50 / p99 ms "
        "| etcd ops/s, median (range) | etcd p50 / p99 ms "
        "| Senate / etcd ops | Senate / etcd p99 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    keys = sorted({(c.op, c.clients) for c in cells}, key=lambda k: (k[0] != "write", k[1]))
    for op, n in keys:
        s, e = by.get(("senate", op, n)), by.get(("etcd", op, n))
        ratio = fmt(s.rate / e.rate, ".2f") + "x" if s and e and e.rate else "-"
        p99r = fmt(s.p99_ms / e.p99_ms, ".2f") + "x" if s and e and s.p99_ms and e.p99_ms else "-"
        lines.append(
            f"| {op}s, {n} client{'s' if n > 1 else ''} "
            f"| {_rate(s)} "
            f"| {fmt(s.p50_ms if s else None)} / {fmt(s.p99_ms if s else None)} "
            f"| {_rate(e)} "
            f"| {fmt(e.p50_ms if e else None)} / {fmt(e.p99_ms if e else None)} "
            f"| {ratio} | {p99r} |"
        )
    return "\n".join(lines)


def floors(cells: list[Cell], big: int, mid: int) -> list[str]:
    by = {(c.system, c.op, c.clients): c for c in cells}
    out = []
    s, e = by.get(("senate", "write", big)), by.get(("etcd", "write", big))
    if s and e and e.rate:
        r = s.rate / e.rate
        out.append(
            f"writes/s at {big} clients: {r:.2f}x etcd (floor >= 0.5x): "
            f"{'HOLDS' if r >= 0.5 else 'MISSED'}"
        )
    for op in ("write", "read"):
        s, e = by.get(("senate", op, mid)), by.get(("etcd", op, mid))
        if s and e and s.p99_ms and e.p99_ms:
            r = s.p99_ms / e.p99_ms
            out.append(
                f"{op} p99 at {mid} clients: {r:.2f}x etcd (floor <= 2x): "
                f"{'HOLDS' if r <= 2 else 'MISSED'}"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per cell")
    ap.add_argument("--write-clients", default="1,16,64")
    ap.add_argument("--read-clients", default="16")
    ap.add_argument("--keys", type=int, default=10_000, help="key space")
    ap.add_argument("--only", choices=("senate", "etcd"), default=None)
    ap.add_argument("--json", type=Path, default=None, help="write every cell here")
    ap.add_argument("--profile-dir", type=Path, default=None, help="py-spy pass after the run")
    ap.add_argument(
        "--profile-cells", default="write:64,read:16", help="op:clients,... for the py-spy pass"
    )
    ap.add_argument(
        "--node-prelude",
        default="",
        help="Python run in each Senate node before it starts (experiments only, e.g. "
        "'import gc; gc.set_threshold(100000, 50, 100)'); the README table uses none",
    )
    ap.add_argument(
        "--leader-only",
        action="store_true",
        help="every connection to the leader (no forwarding); the README table splits them",
    )
    ap.add_argument(
        "--repeat", type=int, default=1, help="runs per cell (interleaved); median ops/s"
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    ap.add_argument(
        "--summarize-profile",
        type=Path,
        nargs="+",
        default=None,
        help="only print the category breakdown of py-spy raw files, then exit",
    )
    args = ap.parse_args(argv)
    if args.summarize_profile:
        for path in args.summarize_profile:
            print(summarize_profile(path))
        return 0
    if shutil.which("wrk") is None:
        print("cluster_bench: wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2
    write_clients = [int(x) for x in args.write_clients.split(",") if x]
    read_clients = [int(x) for x in args.read_clients.split(",") if x]
    root = Path(tempfile.mkdtemp(prefix="senate-cluster-bench-"))
    procs = Procs()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cells: list[Cell] = []
    try:
        systems = []
        if args.only in (None, "senate"):
            systems.append(start_senate(procs, root, args.node_prelude))
        if args.only in (None, "etcd"):
            systems.append(start_etcd(procs, root))
        load0 = os.getloadavg()
        print(f"clusters up in {root}; load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
        if args.node_prelude:
            print(f"Senate nodes run with prelude: {args.node_prelude}")
        plan = [("write", n) for n in write_clients] + [("read", n) for n in read_clients]
        prefilled = False
        for op, n in plan:
            if op == "read" and not prefilled:
                for c in systems:
                    cfg = BenchConfig(tuple(c.ordered()), target=c.name, keys=args.keys)  # type: ignore[arg-type]
                    got = asyncio.run(prefill(cfg))
                    print(f"prefilled {got}/{args.keys} keys on {c.name}")
                prefilled = True
            runs: dict[str, list[Cell]] = {c.name: [] for c in systems}
            for rep in range(args.repeat):
                # Alternate who goes first, so a load trend does not favour one system.
                for c in systems if rep % 2 == 0 else systems[::-1]:
                    cell = run_cell(c, op, n, args.duration, args.keys, args.leader_only)
                    runs[c.name].append(cell)
                    print(cell_line(cell), flush=True)
            cells += [combine(r) for r in runs.values()]
        print()
        print(report(cells))
        print()
        big = max(write_clients)
        mid = read_clients[0] if read_clients else 16
        for line in floors(cells, big, mid):
            print(line)
        load1 = os.getloadavg()
        print(f"load average at the end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
        if args.json is not None:
            rows = [{k: v for k, v in dataclasses.asdict(c).items() if k != "hist"} for c in cells]
            args.json.write_text(json.dumps(rows, indent=1))
        if args.profile_dir is not None:
            senate = next((c for c in systems if c.name == "senate"), None)
            if senate is not None:
                todo = [
                    (op, int(n))
                    for op, _, n in (x.partition(":") for x in args.profile_cells.split(","))
                ]
                for line in profile_pass(senate, args.profile_dir, args.duration, args.keys, todo):
                    print(line)
    finally:
        procs.close()
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
