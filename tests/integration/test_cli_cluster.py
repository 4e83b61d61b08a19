"""`senate up`, `senate status` and `senate node`'s refusals, as a user runs them.

`senate up --protocol` runs once per engine (raft, multipaxos, zab); the other
tests here are about the CLI, not the engine, and run on Raft.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from senate_harness import ENGINES, HOST, NODE_MAIN, free_ports, http, key_path, wait_for

SENATE = [sys.executable, "-c", NODE_MAIN]


def _free_base_port() -> int:
    """A base port P with P+1..P+3 (peers), P+1001..P+1003 (HTTP) and P-999..P-997
    (RESP) all free, and all below the kernel's ephemeral port range: there an
    outgoing connection of any other test could take one between this check and
    `senate up`'s bind (which then refuses to start: a flaky test, not a bug)."""
    ephemeral_low = _ephemeral_low()
    rng = random.Random()
    for _ in range(50):
        base = rng.randrange(3_000, min(30_000, ephemeral_low - 1_010))
        ports = [base + i for i in (1, 2, 3, 1001, 1002, 1003, -999, -998, -997)]
        if all(_bindable(p) for p in ports):
            return base
    raise AssertionError("no free base port found")


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


class _Output:
    """Collects a process's stdout lines in a thread, so waits never block on a pipe."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        self._thread = threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def drain(self) -> str:
        """Everything the process wrote, once it has exited."""
        self._thread.join(timeout=5)
        return self.text()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); count it as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("protocol", ENGINES)
def test_senate_up_serves_and_stops_cleanly_on_sigterm(tmp_path: Path, protocol: str) -> None:
    base = _free_base_port()
    data = tmp_path / "data"
    up = [*SENATE, "up", "--base-port", str(base), "--data-dir", str(data)]
    proc = subprocess.Popen(
        [*up, "--protocol", protocol],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = _Output(proc)
    pids: list[int] = []
    try:
        # Longer than senate up's own start-up bound, so its verdict is always seen;
        # if it exits instead, say why at once.
        wait_for(
            "senate up to report ready",
            lambda: "cluster ready" in out.text() or proc.poll() is not None,
            60,
        )
        if proc.poll() is not None:
            raise AssertionError(f"senate up exited early:\n{out.drain()}")
        text = out.text()
        for i in (1, 2, 3):
            assert f"http://127.0.0.1:{base + 1000 + i}" in text
            assert f"peer 127.0.0.1:{base + i}" in text
            assert f"resp 127.0.0.1:{base - 1000 + i}" in text
        pids = [int(p) for p in re.findall(r"pid (\d+)", text)]
        assert len(pids) == 3 and all(_pid_alive(p) for p in pids)
        url = f"http://127.0.0.1:{base + 1002}"
        assert http("PUT", url + key_path("up/key"), b"hello").status == 200
        assert http("GET", f"http://127.0.0.1:{base + 1003}" + key_path("up/key")).body == b"hello"
        # Every printed RESP port serves, and the stores replicate active-active.
        rdbs = [redis.Redis(host=HOST, port=base - 1000 + i, socket_timeout=5) for i in (1, 2, 3)]
        for rdb in rdbs:
            wait_for("RESP to answer", lambda r=rdb: _pings(r), 20)
        assert rdbs[0].set("up:greeting", "hi")
        wait_for(
            "the RESP write to reach n3",
            lambda: rdbs[2].get("up:greeting") == b"hi",
            15,
        )
        for rdb in rdbs:
            rdb.close()
        endpoints = ",".join(f"http://127.0.0.1:{base + 1000 + i}" for i in (1, 2, 3))
        status = subprocess.run(
            [*SENATE, "status", "--endpoints", endpoints],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "COLUMNS": "160"},
        )
        assert status.returncode == 0, status.stderr
        assert "leader" in status.stdout and "follower" in status.stdout
        for nid in ("n1", "n2", "n3"):
            assert nid in status.stdout
        assert f"senate cluster status ({protocol})" in status.stdout, status.stdout
        for i in (1, 2, 3):
            st = http("GET", f"http://127.0.0.1:{base + 1000 + i}/v1/status").json()
            assert st["protocol"] == protocol
        assert (data / "n1" / "wal").is_dir() and (data / "n2.log").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, out.text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in pids:
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert "all nodes stopped" in out.text()
    wait_for("every node process to exit", lambda: not any(_pid_alive(p) for p in pids), 10)
    # The data dir remembers its protocol: another one is refused before any node starts.
    other = next(p for p in ENGINES if p != protocol)
    refused = subprocess.run([*up, "--protocol", other], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and f"holds a {protocol} log" in lines[0], refused.stderr
    assert not refused.stdout


def test_senate_up_refuses_a_busy_port(tmp_path: Path) -> None:
    base = _free_base_port()
    with socket.socket() as sock:
        sock.bind((HOST, base + 2))
        sock.listen()
        result = subprocess.run(
            [*SENATE, "up", "--base-port", str(base), "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert str(base + 2) in result.stderr and "in use" in result.stderr


def test_senate_status_without_nodes_fails(tmp_path: Path) -> None:
    # The endpoints come from $SENATE_ENDPOINTS here, as for `senate kv`.
    (port,) = free_ports(1)
    result = subprocess.run(
        [*SENATE, "status"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "SENATE_ENDPOINTS": f"http://127.0.0.1:{port}", "COLUMNS": "160"},
    )
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stdout, result.stdout
    assert "unreachable" in result.stdout and "no node answered" in result.stderr


def _node(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SENATE, "node", *args], capture_output=True, text=True, timeout=30)


def test_senate_node_refuses_bad_flags_with_one_line(tmp_path: Path) -> None:
    peer, http_port = free_ports(2)
    good = {
        "--id": "n1",
        "--data-dir": str(tmp_path / "d"),
        "--peer": f"127.0.0.1:{peer}",
        "--http": f"127.0.0.1:{http_port}",
        "--cluster": f"n1=127.0.0.1:{peer}",
    }
    cases = [
        {"--peer": "nonsense"},
        {"--cluster": f"n2=127.0.0.1:{peer}"},  # this node is not a member
        {"--cluster": "n1=127.0.0.1:1"},  # --peer disagrees with --cluster
        {"--id": "bad id!"},
        {"--http": "127.0.0.1:99999"},
    ]
    for change in cases:
        flags = {**good, **change}
        result = _node(*[x for kv in flags.items() for x in kv])
        assert result.returncode == 2, (change, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, (change, result.stderr)


def test_senate_node_refuses_an_unusable_data_dir(tmp_path: Path) -> None:
    peer, http_port = free_ports(2)
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("not a directory")
    result = _node(
        "--id", "n1",
        "--data-dir", str(not_a_dir),
        "--peer", f"127.0.0.1:{peer}",
        "--http", f"127.0.0.1:{http_port}",
        "--cluster", f"n1=127.0.0.1:{peer}",
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "data dir" in lines[0], result.stderr


def test_a_single_node_cluster_serves_and_recovers(tmp_path: Path) -> None:
    peer, http_port, resp_port = free_ports(3)
    argv = [
        *SENATE, "node", "--id", "solo", "--data-dir", str(tmp_path / "solo"),
        "--peer", f"127.0.0.1:{peer}", "--http", f"127.0.0.1:{http_port}",
        "--cluster", f"solo=127.0.0.1:{peer}", "--resp", f"127.0.0.1:{resp_port}",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{http_port}"
    for round_ in range(2):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_for("the node to lead", lambda: _leads(url), 20)
            rdb = redis.Redis(host="127.0.0.1", port=resp_port, socket_timeout=5)
            wait_for("RESP to answer", lambda r=rdb: _pings(r), 20)
            if round_ == 0:
                assert http("PUT", url + key_path("solo/k"), b"v").status == 200
                assert rdb.set("solo-r", "w")
                # A second node on the same data dir is refused while this one runs.
                again = _node(*argv[4:])
                assert again.returncode == 1 and "in use" in again.stderr
            else:
                assert http("GET", url + key_path("solo/k")).body == b"v"
                assert rdb.get("solo-r") == b"w"  # the RESP store recovered too
                assert http("GET", url + "/v1/status").json()["protocol"] == "raft"
            rdb.close()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.stderr is not None
        log = proc.stderr.read()
        assert f"serving RESP on 127.0.0.1:{resp_port}" in log
        time.sleep(0.1)
    # Restarted with another engine, the node refuses its Raft data dir: exit 2, one line.
    for other in ("multipaxos", "zab"):
        refused = _node(*argv[4:], "--protocol", other)
        assert refused.returncode == 2, refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "holds a raft log" in lines[0], refused.stderr


def _pings(rdb: redis.Redis) -> bool:
    try:
        return bool(rdb.ping())
    except redis.ConnectionError:
        return False


def _leads(url: str) -> bool:
    try:
        return bool(http("GET", url + "/v1/status", timeout=2).json()["role"] == "leader")
    except OSError:
        return False
