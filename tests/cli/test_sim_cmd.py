"""`senate sim` as a user runs it: a real process, its output and exit status."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from senate.sim import SimConfig, run_simulation
from senate.sim.engines import mutants


def _senate(*args: str, hash_seed: str = "0") -> subprocess.CompletedProcess[str]:
    exe = shutil.which("senate") or str(Path(sys.executable).with_name("senate"))
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "COLUMNS": "200"}
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, check=False, env=env, timeout=300
    )


def _trace_hash(stdout: str) -> str:
    for line in stdout.splitlines():
        if line.startswith("trace hash "):
            return line.split()[2]
    raise AssertionError(f"no trace hash in:\n{stdout}")


def test_one_seed_passes_and_prints_a_summary(tmp_path: Path) -> None:
    history = tmp_path / "h.jsonl"
    trace = tmp_path / "t.txt"
    r = _senate("sim", "--seed", "1", "--history", str(history), "--trace", str(trace))
    assert r.returncode == 0, r.stdout + r.stderr
    for text in ("leaders elected", "entries committed", "faults injected", "ops", "verdict"):
        assert text in r.stdout
    assert "linearizable" in r.stdout
    assert history.read_text().count("\n") >= 2 * 100
    assert trace.read_text().count("\n") > 100
    # The history file is one `senate check` accepts.
    check = _senate("check", str(history))
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_trace_does_not_depend_on_the_string_hash_seed() -> None:
    a = _senate("sim", "--seed", "3", hash_seed="1")
    b = _senate("sim", "--seed", "3", hash_seed="2")
    assert a.returncode == 0 and b.returncode == 0
    assert _trace_hash(a.stdout) == _trace_hash(b.stdout)


def test_a_range_of_seeds() -> None:
    r = _senate("sim", "--seeds", "1..5")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 seeds" in r.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["sim", "--seed", "x"],
        ["sim", "--seed", "1", "--bogus"],
        ["sim"],
        ["sim", "--seed", "1", "--seeds", "1..2"],
        ["sim", "--seeds", "5..1"],
        ["sim", "--seed", "1", "--faults", "meteor"],
        ["sim", "--seed", "1", "--protocol", "carrier-pigeon"],
        ["sim", "--seed", "1", "--mutant", "no-such-mutant"],
        ["sim", "--seed", "1", "--nodes", "0"],
    ],
)
def test_bad_usage_exits_2_with_one_line(args: list[str]) -> None:
    r = _senate(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("senate: ")


def _failing_mutant_seed() -> tuple[str, int]:
    names = sorted(mutants("raft"))
    assert names, "no Raft mutants to run"
    for seed in range(1, 50):
        for name in names:
            if not run_simulation(SimConfig(seed=seed, nodes=3, mutant=name)).ok:
                return name, seed
    raise AssertionError("no mutant failed on seeds 1..49")


def test_a_failing_mutant_exits_1_and_prints_the_replay_command() -> None:
    name, seed = _failing_mutant_seed()
    r = _senate("sim", "--seed", str(seed), "--nodes", "3", "--mutant", name)
    assert r.returncode == 1, r.stdout + r.stderr
    replay = f"senate sim --seed {seed} --nodes 3 --ops 100 --faults all --protocol raft"
    assert f"{replay} --mutant {name}" in r.stdout
    # And --seeds stops at the first failure with the same command.
    r = _senate("sim", "--seeds", f"{seed}..{seed + 3}", "--nodes", "3", "--mutant", name)
    assert r.returncode == 1
    assert f"--seed {seed} " in r.stdout and "replay with" in r.stdout
    assert f"seed {seed + 1}" not in r.stdout and "ok 4 seeds" not in r.stdout
