"""Process and wrk helpers shared by the cluster benchmarks (cluster_bench.py,
engines_cluster_bench.py): start real `senate node` processes on loopback, run wrk
with the Lua scripts in bench/wrk/, merge their raw-latency histograms.

Rules this file keeps: every process started through `Procs` (and every wrk run by
`run_wrk`) dies when the bench ends, even on an error or Ctrl-C (SIGTERM, then
SIGKILL; PR_SET_PDEATHSIG as a last resort); every wait is bounded; only loopback
addresses.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
WRK_DIR = Path(__file__).resolve().parent / "wrk"
NODE_MAIN = "from senate.cli.main import main; main()"
START_TIMEOUT = 60.0


# ---- processes -------------------------------------------------------------------


def die_with_parent() -> None:
    # In the child between fork and exec: SIGKILL it if this script dies.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


@dataclass(slots=True)
class Procs:
    """Every long-lived process the bench started, so `close` can end them all."""

    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        live = [p for p in self.procs if p.poll() is None]
        for p in live:
            with contextlib.suppress(ProcessLookupError):
                p.terminate()
        deadline = time.monotonic() + 10
        for p in live:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_json(url: str, body: bytes | None = None, timeout: float = 2.0) -> Any:
    req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def wait_for(what: str, check: Callable[[], Any], timeout: float = START_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            got = check()
            if got:
                return got
        time.sleep(0.2)
    raise SystemExit(f"{Path(sys.argv[0]).stem}: timed out waiting for {what}")


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0.0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


# ---- a Senate cluster ------------------------------------------------------------


@dataclass(slots=True)
class Cluster:
    name: str  # "senate" | "etcd" | an engine name
    urls: list[str]  # client URLs, node order
    pids: list[int]
    leader: Callable[[], int]  # index of the leader in `urls` (waits for one)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # node ids, node order (Senate)

    def ordered(self) -> list[str]:
        """Client URLs, leader first (so a single client talks to the leader)."""
        lead = self.leader()
        return [self.urls[lead]] + [u for i, u in enumerate(self.urls) if i != lead]


def start_senate(
    procs: Procs,
    root: Path,
    prelude: str = "",
    protocol: str | None = None,
    name: str = "senate",
    nodes: int = 3,
) -> Cluster:
    """`nodes` real `senate node` processes on loopback, data and logs under `root`.

    `protocol`: passed as `--protocol` (None: the node's default engine). Returns
    once some node reports itself leader.
    """
    root.mkdir(parents=True, exist_ok=True)
    ports = free_ports(2 * nodes)
    peers = ports[:nodes]
    https = ports[nodes:]
    ids = [f"n{i + 1}" for i in range(nodes)]
    flag = ",".join(f"{ids[i]}={HOST}:{p}" for i, p in enumerate(peers))
    started = []
    for i in range(nodes):
        code = f"{prelude}; {NODE_MAIN}" if prelude else NODE_MAIN
        argv = [sys.executable, "-c", code, "node", "--id", ids[i]]
        argv += ["--data-dir", str(root / f"{name}-{ids[i]}")]
        argv += ["--peer", f"{HOST}:{peers[i]}", "--http", f"{HOST}:{https[i]}"]
        argv += ["--cluster", flag]
        if protocol is not None:
            argv += ["--protocol", protocol]
        started.append(procs.spawn(argv, root / f"{name}-{ids[i]}.log"))
    urls = [f"http://{HOST}:{p}" for p in https]

    def leader() -> int:
        def find() -> int | None:
            if all(p.poll() is not None for p in started):
                log = root / f"{name}-{ids[0]}.log"
                text = log.read_text(errors="replace") if log.exists() else ""
                tail = "\n".join(text.splitlines()[-12:])
                raise SystemExit(f"every {name} node exited; {log.name} ends with:\n{tail}")
            for i, u in enumerate(urls):
                if started[i].poll() is None:
                    st = http_json(f"{u}/v1/status")
                    if st.get("role") == "leader":
                        return i + 1
            return None

        return int(wait_for(f"a {name} leader", find)) - 1

    cluster = Cluster(name, urls, [p.pid for p in started], leader, started, ids)
    lead = cluster.leader()

    def agreed() -> bool:
        # Every node up and following the leader: a node still starting (slow under
        # load) would refuse wrk's connections, one that never joins would skew a cell.
        views = [http_json(f"{u}/v1/status").get("leader") for u in urls]
        return all(v == ids[lead] for v in views)

    try:
        wait_for(f"every {name} node to follow {ids[lead]}", agreed)
    except SystemExit:
        views = []
        for u in urls:
            try:
                st = http_json(f"{u}/v1/status")
                views.append(f"{st.get('id')}: {st.get('role')}, leader {st.get('leader')}")
            except (OSError, ValueError) as exc:
                views.append(f"{u}: {exc}")
        raise SystemExit(
            f"{name}: not every node follows {ids[lead]} after {START_TIMEOUT:g} s ("
            + "; ".join(views)
            + f"; logs in {root})"
        ) from None
    return cluster


# ---- wrk -------------------------------------------------------------------------


def split(total: int, ways: int) -> list[int]:
    """`total` connections over `ways` nodes, the first (the leader) taking extras."""
    base, extra = divmod(total, ways)
    return [base + (1 if i < extra else 0) for i in range(ways)]


def percentile_ms(hist: dict[int, int], pct: float) -> float | None:
    """Nearest-rank percentile of a merged bucket histogram (bucket = lower bound, us)."""
    total = sum(hist.values())
    if total == 0:
        return None
    rank = max(1, -(-total * pct // 100))
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen >= rank:
            return bucket / 1000.0
    return max(hist) / 1000.0


def parse_wrk(out: str) -> tuple[dict[str, int], dict[int, int]]:
    """The BENCH fields and the HIST buckets one wrk run printed (bench/wrk/common.lua)."""
    fields: dict[str, int] = {}
    hist: dict[int, int] = {}
    for line in out.splitlines():
        if line.startswith(("BENCH ", "MARK ")):
            for part in line.split()[1:]:
                k, v = part.split("=")
                fields[k] = int(float(v))
        elif line.startswith("HIST"):
            for part in line.split()[1:]:
                b, n = part.split(":")
                hist[int(float(b))] = hist.get(int(float(b)), 0) + int(n)
    if "ok" not in fields:
        raise RuntimeError(f"wrk printed no BENCH line:\n{out}")
    return fields, hist


def run_wrk(
    script: Path,
    targets: list[tuple[str, int]],
    duration: float,
    args: list[str],
    during: Callable[[], None] | None = None,
) -> list[str]:
    """One wrk process per (url, connections) target, one connection per thread, all at
    once for `duration` seconds; returns their outputs, target order. The script gets
    `args` plus the process index. `during`, if given, runs in this thread while the
    wrk processes run (e.g. to kill a node on schedule)."""
    runs: list[subprocess.Popen[str]] = []
    try:
        for idx, (url, conns) in enumerate(targets):
            argv = ["wrk", "-t", str(conns), "-c", str(conns), "-d", f"{duration:g}s"]
            argv += ["--timeout", "10s", "-s", str(script), url, "--", *args[:2], str(idx)]
            argv += args[2:]
            runs.append(
                subprocess.Popen(
                    argv,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    preexec_fn=die_with_parent,
                )
            )
        if during is not None:
            during()
        return [r.communicate(timeout=duration + 60)[0] for r in runs]
    finally:
        for r in runs:
            if r.poll() is None:
                r.kill()
                r.wait()
