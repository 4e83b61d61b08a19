"""bench/engines_cluster_bench.py --quick as a user runs it: real processes, real wrk.

Checks the structure of what it prints and writes (every engine asked for has its
write cells, its kill cell and a table row; the counters behind msgs/cmd and
fsyncs/cmd were read), never the speed (DESIGN.md: tests never assert on
wall-clock speed). One engine, Raft, the quickest mode: about 15 s.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "engines_cluster_bench.py"


def test_quick_run_prints_the_table_and_writes_every_cell(tmp_path: Path) -> None:
    assert shutil.which("wrk"), "wrk is missing: run ./scripts/setup.sh (it installs wrk)"
    out = tmp_path / "cells.json"
    argv = [sys.executable, str(BENCH), "--quick", "--engines", "raft", "--json", str(out)]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| engine |"))
    for column in (
        "writes/s, 1 client",
        "writes/s, 16 clients",
        "msgs/cmd",
        "fsyncs/cmd",
        "kill: elect",
    ):
        assert column in header
    assert any(line.startswith("| raft |") for line in lines)

    doc = json.loads(out.read_text())
    assert doc["config"]["engines"] == ["raft"] and doc["config"]["clients"] == [1, 16]
    (run0,) = doc["runs"]
    assert run0["engine"] == "raft" and run0["error"] is None
    assert [c["clients"] for c in run0["writes"]] == [1, 16]
    for cell in run0["writes"]:
        assert cell["ok"] > 0 and cell["commands"] > 0  # the leader's revision moved
        assert cell["messages"] > 0 and cell["fsyncs"] > 0  # /v1/metrics was read
        assert cell["p50_ms"] <= cell["p99_ms"]
    kill = run0["kill"]
    assert kill["killed"] in {"n1", "n2", "n3"}
    assert kill["new_leader"] in {"n1", "n2", "n3"} - {kill["killed"]}
    assert kill["elect_ms"] is not None and kill["first_ok_ms"] is not None
    assert kill["ok_after"] > 0
    summary = doc["summary"]["raft"]
    assert set(summary["writes"]) == {"1", "16"}
    assert summary["kill"]["repeats"] == 1 and summary["kill"]["stalled"] == 0


def test_unknown_engine_is_refused_without_a_traceback() -> None:
    argv = [sys.executable, str(BENCH), "--quick", "--engines", "pbft"]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert "unknown engine 'pbft'" in run.stderr and "Traceback" not in run.stderr
