"""`senate lock` as a user runs it, against a real 3-node cluster.

Checks: the command runs with the fencing token in its environment and its exit
status becomes `senate lock`'s; a held lock keeps others out (exit 1 after
--wait) until its holder lets go (Ctrl-C on --hold exits 0), and the next holder
gets a larger token; bad usage exits 2.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "client"))

from cli_inprocess import run_main
from client_cluster import endpoints, session_cluster
from senate_harness import Cluster

SENATE = [sys.executable, "-c", "from senate.cli.main import main; main()"]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    cluster: Cluster = session_cluster(tmp_path_factory.getbasetemp() / "senate-shared")
    return {**os.environ, "SENATE_ENDPOINTS": ",".join(endpoints(cluster))}


def lock(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*SENATE, "lock", *args], capture_output=True, text=True, env=env, timeout=30
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _token(line: str) -> int:
    name, _, value = line.strip().partition("=")
    assert name == "fencing_token", line
    return int(value)


def test_runs_the_command_with_the_token_and_returns_its_status(env: dict[str, str]) -> None:
    ran = lock(
        env, "job", "--ttl", "5", "--", "sh", "-c", 'echo "got $SENATE_FENCING_TOKEN"; exit 3'
    )
    assert ran.returncode == 3, ran.stderr
    first, second = ran.stdout.splitlines()
    assert second == f"got {_token(first)}"
    again = lock(env, "job", "--", "true")
    assert again.returncode == 0
    assert _token(again.stdout.splitlines()[0]) > _token(first)  # released, then re-taken


def test_a_held_lock_keeps_others_out_until_released(env: dict[str, str]) -> None:
    holder = subprocess.Popen(
        [*SENATE, "lock", "held", "--hold", "--ttl", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert holder.stdout is not None
        held = _token(holder.stdout.readline())
        refused = lock(env, "held", "--wait", "0.5", "--", "true")
        assert refused.returncode == 1
        assert refused.stderr == "senate: lock 'held' not acquired within 0.5 s\n"
        holder.send_signal(signal.SIGINT)
        assert holder.wait(timeout=10) == 0
    finally:
        holder.kill()
        holder.wait()
    after = lock(env, "held", "--wait", "5", "--", "true")
    assert after.returncode == 0 and _token(after.stdout) > held


def test_a_command_that_cannot_start_fails_and_releases(env: dict[str, str]) -> None:
    missing = lock(env, "norun", "--", "/nonexistent/command")
    assert missing.returncode == 1
    assert missing.stderr.startswith("senate: cannot run '/nonexistent/command'")
    assert lock(env, "norun", "--wait", "2", "--", "true").returncode == 0


def test_an_interrupt_reaches_the_command_and_the_lock_is_released(env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [*SENATE, "lock", "intr", "--", "sleep", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        token = _token(proc.stdout.readline())
        proc.send_signal(signal.SIGINT)  # to senate only: it passes it on to sleep
        assert proc.wait(timeout=10) == 128 + signal.SIGINT
    finally:
        proc.kill()
        proc.wait()
    after = lock(env, "intr", "--wait", "2", "--", "true")
    assert after.returncode == 0 and _token(after.stdout) > token


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(capsys, "lock", "x").returncode == 2  # neither a command nor --hold
    assert run_main(capsys, "lock", "x", "--hold", "--", "true").returncode == 2
    assert run_main(capsys, "lock", "x", "--ttl", "0", "--", "true").returncode == 2
    assert run_main(capsys, "lock", "x", "--wait", "-1", "--hold").returncode == 2
