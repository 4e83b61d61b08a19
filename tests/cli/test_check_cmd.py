"""`senate check` as a user runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from senate.check.generate import register_history


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["senate", "check", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def ev(process: int, type_: str, f: str, value: Any, time: float, key: str = "x") -> dict[str, Any]:
    return {"process": process, "type": type_, "f": f, "key": key, "value": value, "time": time}


STALE = [
    ev(0, "invoke", "write", 1, 0.0),
    ev(0, "ok", "write", 1, 1.0),
    ev(0, "invoke", "write", 2, 2.0),
    ev(0, "ok", "write", 2, 3.0),
    ev(1, "invoke", "read", None, 4.0),
    ev(1, "ok", "read", 1, 5.0),
]


def test_linearizable_history_exits_0(tmp_path: Path) -> None:
    events = register_history(random.Random(3), ops=300, processes=5, keys=3, info_rate=0.05)
    path = tmp_path / "good.jsonl"
    path.write_text("".join(e.to_json() + "\n" for e in events), encoding="utf-8")
    result = run(str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("LINEARIZABLE: 300 operations on 3 keys")
    assert "\x1b[" not in result.stdout  # no colour codes when not a terminal


def test_violation_exits_1_and_prints_the_window(tmp_path: Path) -> None:
    result = run(str(write(tmp_path / "bad.jsonl", STALE)))
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert out.startswith("NOT LINEARIZABLE: key 'x' is not linearizable")
    assert "process 1 read x -> 1 ok" in out
    assert "held 2" in out
    assert "window (4 events, in history order):" in out
    window_lines = [ln for ln in out.splitlines() if ln.startswith("  t=")]
    assert len(window_lines) == 4
    assert "process 1" in window_lines[-1] and "read" in window_lines[-1]


def test_budget_exhausted_exits_2_unknown(tmp_path: Path) -> None:
    result = run(str(write(tmp_path / "bad.jsonl", STALE)), "--max-steps", "1")
    assert result.returncode == 2
    assert result.stdout.startswith("UNKNOWN: gave up after 1 search steps")


def test_malformed_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(STALE[0]) + "\n" + json.dumps(STALE[1]) + "\n{oops\n")
    result = run(str(path))
    assert result.returncode == 2
    assert "line 3: bad JSON" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unpaired_completion_exits_2_naming_the_line(tmp_path: Path) -> None:
    result = run(str(write(tmp_path / "unpaired.jsonl", [STALE[1]])))
    assert result.returncode == 2
    assert "line 1: ok for process 0 has no open invoke" in result.stderr


@pytest.mark.parametrize("args", [["/nonexistent/history.jsonl"], ["--max-steps", "0", "x"]])
def test_bad_usage_exits_2_without_traceback(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip()


def test_reads_stdin_with_dash() -> None:
    stdin = "".join(json.dumps(row) + "\n" for row in STALE[:4])
    result = run("-", stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("LINEARIZABLE: 2 operations on 1 key are")
