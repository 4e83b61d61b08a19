"""`senate bench` as a user runs it: a real process against a real 3-node cluster.

Checks the output's shape and the exit codes, never the speed (DESIGN.md: tests
never assert on wall-clock speed). Each run is bounded by --requests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from senate_harness import Cluster


def _senate(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("senate") or str(Path(sys.executable).with_name("senate"))
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, check=False, env=env, timeout=120
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("bench"), 3)
    try:
        c.start()
        c.wait_leader()
        yield c
    finally:
        c.close()


def _endpoints(c: Cluster) -> str:
    return ",".join(n.url for n in c.nodes.values())


def test_write_table_has_rate_and_percentiles(cluster: Cluster) -> None:
    run = _senate("bench", "--endpoints", _endpoints(cluster), "--clients", "4", "--requests", "60")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "senate bench: senate, write, 4 client(s)" in run.stdout
    for column in ("ops/s", "p50 ms", "p99 ms"):
        assert column in run.stdout
    row = next(line for line in run.stdout.splitlines() if "writes" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[0] == "writes"
    assert int(cells[1]) + int(cells[2]) == 60  # the budget is spent exactly
    assert int(cells[1]) > 0
    assert float(cells[4]) <= float(cells[5])  # p50 <= p99


def test_mixed_json_reports_both_ops(cluster: Cluster) -> None:
    run = _senate(
        "bench",
        "--endpoints",
        _endpoints(cluster),
        "--clients",
        "3",
        "--requests",
        "80",
        "--mode",
        "mixed",
        "--keys",
        "20",
        "--value-size",
        "64",
        "--json",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run.stdout)
    assert out["prefilled"] == 20
    assert out["value_size"] == 64
    assert out["write"]["count"] + out["read"]["count"] > 0
    total = sum(out[op]["count"] + sum(out[op]["errors"].values()) for op in ("write", "read"))
    assert total == 80
    for op in ("write", "read"):
        if out[op]["count"]:
            assert 0 < out[op]["p50_ms"] <= out[op]["p99_ms"]
            assert out[op]["per_s"] > 0


@pytest.mark.parametrize(
    "args",
    [
        ("--endpoints", "ftp://x:1"),
        ("--endpoints", "http://127.0.0.1:1", "--clients", "0"),
        ("--endpoints", "http://127.0.0.1:1", "--mode", "scan"),
        ("--endpoints", "http://127.0.0.1:1", "--duration", "1", "--requests", "5"),
        ("--endpoints", "http://127.0.0.1:99999"),
        ("--clients", "2"),
    ],
)
def test_bad_flags_exit_2(args: tuple[str, ...]) -> None:
    run = _senate("bench", *args)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr


def test_nothing_listening_exits_1() -> None:
    run = _senate("bench", "--endpoints", "http://127.0.0.1:9", "--requests", "3")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "no request succeeded" in run.stderr
