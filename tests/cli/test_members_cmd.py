"""`senate members` as a user runs it: bad usage exits 2 with one line, before any
request is made (the endpoints here refuse connections, so a request would exit 1),
and an unreachable cluster exits 1 with one line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

SENATE = [sys.executable, "-c", "from senate.cli.main import main; main()"]


def _refusing_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def members(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SENATE_ENDPOINTS": _refusing_url()}
    result = subprocess.run(
        [*SENATE, "members", *args], capture_output=True, text=True, env=env, timeout=60
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_bad_addresses_and_missing_flags_exit_2() -> None:
    bad_peer = members("add", "n4", "--peer", "nohost", "--http", "127.0.0.1:8104")
    assert bad_peer.returncode == 2
    assert bad_peer.stderr == "senate: --peer: expected HOST:PORT, got 'nohost'\n"
    bad_port = members("add", "n4", "--peer", "127.0.0.1:70000", "--http", "127.0.0.1:8104")
    assert bad_port.returncode == 2 and "--peer" in bad_port.stderr
    assert members("add", "n4", "--peer", "127.0.0.1:7104").returncode == 2  # no --http
    assert members("remove").returncode == 2
    assert members("frobnicate").returncode == 2


def test_an_unreachable_cluster_exits_1_with_one_line() -> None:
    down = members("list")
    assert down.returncode == 1
    assert down.stderr.startswith("senate: no endpoint could serve the request")
    assert len(down.stderr.splitlines()) == 1
