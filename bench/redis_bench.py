"""redis-benchmark against one Senate active-active replica and a real redis-server, in
the same run: SET, GET, INCR at -c 50, without and with -P 16.

    python bench/redis_bench.py [--requests 100000] [--data-dir DIR]

Contestants (each started fresh on a free loopback port, data under a temp dir on the
same disk unless --data-dir says otherwise):
- redis-server, default persistence off (`--save "" --appendonly no`): the floor's baseline;
- redis-server with `--appendonly yes --appendfsync always`: fsync before every reply,
  the durability Senate gives (a reply waits for the WAL's group-committed fdatasync);
- Senate: `python -m senate.activeactive` as one replica (no peers), uvloop if installed.

All three run side by side; they take turns on each (test, -P) cell for --rounds rounds
and the best of each is kept (the machine is shared: turns see the same load). Prints a
markdown table with requests per second and the ratio Senate / redis-server.
Needs redis-server and redis-benchmark (Debian: redis-server, redis-tools).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

TESTS = ("SET", "GET", "INCR")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port}")


@contextlib.contextmanager
def process(cmd: list[str], port: int) -> Iterator[None]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def redis_server(port: int, data: Path, fsync: bool) -> list[str]:
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)]
    cmd += ["--save", ""]
    cmd += ["--appendonly", "yes", "--appendfsync", "always"] if fsync else ["--appendonly", "no"]
    return cmd


def senate(port: int, data: Path) -> list[str]:
    peer = free_port()
    return [
        sys.executable,
        "-m",
        "senate.activeactive",
        "--id",
        "n1",
        "--data-dir",
        str(data),
        "--resp",
        f"127.0.0.1:{port}",
        "--peer",
        f"127.0.0.1:{peer}",
        "--cluster",
        f"n1=127.0.0.1:{peer}",
    ]


def benchmark(port: int, requests: int, pipeline: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "redis-benchmark",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-c",
            "50",
            "-n",
            str(requests),
            "-P",
            str(pipeline),
            "-t",
            "set,get,incr",
            "--csv",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    rows = csv.reader(io.StringIO(out.stdout))
    result: dict[str, float] = {}
    for row in rows:
        if row and row[0] in TESTS:
            result[row[0]] = float(row[1])
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3, help="best of this many runs per cell")
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args()
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            print(f"error: {tool} is not installed (Debian: redis-server, redis-tools)")
            return 1
    root = Path(tempfile.mkdtemp(prefix="senate-bench-", dir=args.data_dir))
    contestants = {
        "redis-server": lambda p, d: redis_server(p, d, fsync=False),
        "redis-server fsync always": lambda p, d: redis_server(p, d, fsync=True),
        "senate": senate,
    }
    best: dict[tuple[str, int, str], float] = {}
    try:
        with contextlib.ExitStack() as stack:
            ports = {}
            for name, make in contestants.items():
                port = ports[name] = free_port()
                data = root / name.replace(" ", "-")
                data.mkdir()
                stack.enter_context(process(make(port, data), port))
            # Contestants take turns on each cell, several rounds, best kept: on a shared
            # machine the load changes by the minute, and turns expose them to the same.
            for round_ in range(args.rounds):
                for pipeline in (1, 16):
                    n = args.requests * (4 if pipeline > 1 else 1)
                    for name, port in ports.items():
                        got = benchmark(port, n, pipeline)
                        for test, rps in got.items():
                            key = (name, pipeline, test)
                            best[key] = max(best.get(key, 0.0), rps)
                        print(f"round {round_} {name} -P {pipeline}: {got}", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        "| test | -P | redis-server | redis-server fsync always | senate "
        "| senate / redis-server | senate / redis fsync always |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    floor_ok = True
    for pipeline in (1, 16):
        for test in TESTS:
            base = best[("redis-server", pipeline, test)]
            durable = best[("redis-server fsync always", pipeline, test)]
            ours = best[("senate", pipeline, test)]
            ratio = ours / base
            if pipeline == 1 and ratio < 0.25:
                floor_ok = False
            print(
                f"| {test} | {pipeline} | {base:,.0f} | {durable:,.0f} | {ours:,.0f} "
                f"| {ratio:.0%} | {ours / durable:.0%} |"
            )
    verdict = "held" if floor_ok else "NOT held"
    print(f"\nfloor (senate >= 25% of redis-server unpipelined, every test): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
