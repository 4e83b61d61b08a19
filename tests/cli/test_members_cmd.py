"""`senate members` as a user runs it.

Against real clusters: `list` (table and JSON); `add` of a fourth node started
with --join (it becomes a voter) and `remove` of it, through endpoints that
include followers (they refuse with 503 and the client moves on to the leader).
Bad usage exits 2 with one line before any request is made (the endpoints there
refuse connections, so a request would exit 1); an unreachable cluster exits 1
with one line.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "client"))

from cli_inprocess import Ran, run_main
from client_cluster import endpoints, session_cluster, started_cluster
from senate_harness import HOST, NodeProc, free_ports, wait_for

from senate.client import RetryPolicy, sync

SENATE = [sys.executable, "-c", "from senate.cli.main import main; main()"]


def _refusing_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def members(*args: str, urls: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SENATE_ENDPOINTS": urls or _refusing_url()}
    result = subprocess.run(
        [*SENATE, "members", *args], capture_output=True, text=True, env=env, timeout=60
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_bad_addresses_and_missing_flags_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENATE_ENDPOINTS", _refusing_url())

    def run(*args: str) -> Ran:
        return run_main(capsys, "members", *args)

    bad_peer = run("add", "n4", "--peer", "nohost", "--http", "127.0.0.1:8104")
    assert bad_peer.returncode == 2
    assert bad_peer.stderr == "senate: --peer: expected HOST:PORT, got 'nohost'\n"
    bad_port = run("add", "n4", "--peer", "127.0.0.1:70000", "--http", "127.0.0.1:8104")
    assert bad_port.returncode == 2 and "--peer" in bad_port.stderr
    bad_http = run("add", "n4", "--peer", "127.0.0.1:7104", "--http", "x")
    assert bad_http.returncode == 2 and "--http" in bad_http.stderr
    assert run("add", "n4", "--peer", "127.0.0.1:7104").returncode == 2  # no --http
    assert run("remove").returncode == 2
    assert run("frobnicate").returncode == 2


def test_an_unreachable_cluster_exits_1_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short retry budget: the default rides out an election for ~15 s.
    fast = RetryPolicy(attempts=6, deadline=2.0, base_delay=0.01, max_delay=0.05)
    monkeypatch.setattr(sync, "RetryPolicy", lambda: fast)
    urls = ",".join(_refusing_url() for _ in range(3))
    down = run_main(capsys, "members", "list", "--endpoints", urls)
    assert down.returncode == 1
    assert down.stderr.startswith("senate: no endpoint could serve the request after 6 attempts")
    assert len(down.stderr.splitlines()) == 1


def test_list_shows_every_member(tmp_path_factory: pytest.TempPathFactory) -> None:
    cluster = session_cluster(tmp_path_factory.getbasetemp() / "senate-shared")
    urls = ",".join(endpoints(cluster))

    def listed() -> list[dict[str, object]] | None:
        result = members("list", "--json", urls=urls)
        assert result.returncode == 0, result.stderr
        docs: list[dict[str, object]] = json.loads(result.stdout)
        return docs if all(d["http"] for d in docs) else None  # addresses spread in ~2 s

    docs = wait_for("every member's http address", listed, 15, every=0.5)
    assert [(d["id"], d["voter"]) for d in docs] == [("n1", True), ("n2", True), ("n3", True)]
    table = members("list", urls=urls)
    assert table.returncode == 0
    for node in cluster.nodes.values():
        assert node.node_id in table.stdout
        assert f"127.0.0.1:{node.http_port}" in table.stdout
    assert "voter" in table.stdout
    bare = members(urls=urls)  # `senate members` alone lists, as `list` does
    assert bare.returncode == 0 and bare.stdout == table.stdout


def test_add_a_joining_node_then_remove_it(tmp_path: Path) -> None:
    cluster = started_cluster(tmp_path)
    try:
        urls = ",".join(endpoints(cluster))  # the three founders, followers included
        peer, http_port = free_ports(2)
        n4 = NodeProc("n4", peer, http_port, tmp_path / "n4", tmp_path / "n4.log")
        cluster.nodes["n4"] = n4  # the cluster flag now names it too; close() stops it
        with open(n4.log_path, "ab") as log:
            n4.proc = subprocess.Popen(
                [*cluster.argv(n4), "--join"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for("n4 to serve HTTP", lambda: cluster.status("n4"), 20)
        added = members(
            "add", "n4", "--peer", f"{HOST}:{peer}", "--http", f"{HOST}:{http_port}", urls=urls
        )
        assert added.returncode == 0, added.stderr
        assert added.stdout.startswith("added n4")

        def n4_votes() -> bool:
            docs = json.loads(members("list", "--json", urls=urls).stdout)
            return any(d["id"] == "n4" and d["voter"] for d in docs)

        wait_for("n4 to be promoted to voter", n4_votes, 20, every=0.5)
        removed = members("remove", "n4", urls=urls)
        assert (removed.returncode, removed.stdout) == (0, "removed n4\n"), removed.stderr
        docs = json.loads(members("list", "--json", urls=urls).stdout)
        assert sorted(d["id"] for d in docs) == ["n1", "n2", "n3"]
        again = members("remove", "n4", urls=urls)
        assert again.returncode == 1 and len(again.stderr.splitlines()) == 1
    finally:
        cluster.close()
