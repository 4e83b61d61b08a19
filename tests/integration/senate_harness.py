"""A cluster of real `senate node` processes on loopback, for integration tests.

Rules this file keeps:
- Ports are found free by binding port 0 (all of a cluster's ports are held
  open together, then released just before the nodes start).
- Every wait is bounded and says what it waited for when it gives up.
- `close()` SIGKILLs whatever is still running and always runs (fixtures call it in
  `finally`), so a failing test never leaves a node behind.
- HTTP goes through urllib (no extra dependency); a response is (status, headers,
  body) whatever the status, and connection trouble is raised as OSError.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HOST = "127.0.0.1"
ENGINES = ("raft", "multipaxos", "zab")  # every --protocol (runtime/config.py PROTOCOLS)
# On a test module (pytestmark) or a test: run it once per engine (conftest's
# `cluster` fixture takes the engine from the `protocol` argument).
ENGINE_PARAMS = pytest.mark.parametrize("protocol", ENGINES)
NODE_MAIN = "from senate.cli.main import main; main()"


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that were free a moment ago on HOST."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


@dataclass(slots=True, frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> Response:
    """One HTTP request; any status is returned, connection errors raise OSError."""
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Response(exc.code, dict(exc.headers.items()), exc.read())
    except urllib.error.URLError as exc:
        reason = exc.reason
        raise reason if isinstance(reason, OSError) else OSError(str(reason)) from None


def key_path(key: str) -> str:
    return "/v1/kv/" + urllib.parse.quote(key, safe="")


@dataclass(slots=True)
class NodeProc:
    node_id: str
    peer_port: int
    http_port: int
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    resp_port: int = 0  # 0: this node serves no RESP

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass(slots=True)
class Cluster:
    root: Path
    size: int = 3
    extra_args: tuple[str, ...] = ()
    resp: bool = False  # every node also serves RESP (the active-active store)
    protocol: str = "raft"  # the consensus engine every node runs (--protocol)
    nodes: dict[str, NodeProc] = field(default_factory=dict)

    def __post_init__(self) -> None:
        per_node = 3 if self.resp else 2
        ports = free_ports(per_node * self.size)
        for i in range(self.size):
            nid = f"n{i + 1}"
            mine = ports[per_node * i : per_node * (i + 1)]
            self.nodes[nid] = NodeProc(
                nid,
                mine[0],
                mine[1],
                self.root / nid,
                self.root / f"{nid}.log",
                resp_port=mine[2] if self.resp else 0,
            )

    @property
    def cluster_flag(self) -> str:
        return ",".join(f"{n.node_id}={HOST}:{n.peer_port}" for n in self.nodes.values())

    def argv(self, node: NodeProc) -> list[str]:
        return [
            sys.executable,
            "-c",
            NODE_MAIN,
            "node",
            "--id",
            node.node_id,
            "--data-dir",
            str(node.data_dir),
            "--peer",
            f"{HOST}:{node.peer_port}",
            "--http",
            f"{HOST}:{node.http_port}",
            "--cluster",
            self.cluster_flag,
            "--protocol",
            self.protocol,
            *(("--resp", f"{HOST}:{node.resp_port}") if node.resp_port else ()),
            *self.extra_args,
        ]

    # ---- processes -------------------------------------------------------------

    def start(self, *ids: str) -> None:
        for nid in ids or tuple(self.nodes):
            node = self.nodes[nid]
            assert not node.alive(), f"{nid} is already running"
            with open(node.log_path, "ab") as log:
                node.proc = subprocess.Popen(
                    self.argv(node), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
                )

    def kill(self, nid: str, sig: int = signal.SIGKILL) -> None:
        node = self.nodes[nid]
        assert node.proc is not None
        node.proc.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            node.proc.wait(timeout=15)

    def kill_all(self) -> None:
        """SIGKILL every running node at once (signals first, then the waits)."""
        live = [n.proc for n in self.nodes.values() if n.proc is not None and n.alive()]
        for proc in live:
            proc.kill()
        for proc in live:
            proc.wait(timeout=15)

    def close(self) -> None:
        for node in self.nodes.values():
            if node.proc is not None and node.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    node.proc.send_signal(signal.SIGCONT)  # in case a test paused it
                    node.proc.kill()
                node.proc.wait(timeout=15)

    def logs(self) -> str:
        parts = []
        for node in self.nodes.values():
            text = node.log_path.read_text(errors="replace") if node.log_path.exists() else ""
            parts.append(f"--- {node.node_id} ---\n{text[-4000:]}")
        return "\n".join(parts)

    # ---- HTTP ------------------------------------------------------------------

    def request(
        self,
        nid: str,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Response:
        return http(method, self.nodes[nid].url + path, body, headers, timeout)

    def put(self, nid: str, key: str, value: bytes, query: str = "", **kw: Any) -> Response:
        return self.request(nid, "PUT", key_path(key) + query, value, **kw)

    def get(self, nid: str, key: str, query: str = "", **kw: Any) -> Response:
        return self.request(nid, "GET", key_path(key) + query, **kw)

    def status(self, nid: str) -> dict[str, Any] | None:
        if not self.nodes[nid].alive():
            return None
        try:
            resp = self.request(nid, "GET", "/v1/status", timeout=2.0)
        except OSError:
            return None
        return resp.json() if resp.status == 200 else None

    def leader(self, among: Iterator[str] | None = None) -> str | None:
        """The leader every live node (of `among`) agrees on, if they all answer."""
        ids = list(among) if among is not None else [n for n in self.nodes if self.nodes[n].alive()]
        views = [self.status(nid) for nid in ids]
        if not views or any(v is None for v in views):
            return None
        leaders = {v["leader"] for v in views if v is not None}
        if len(leaders) != 1:
            return None
        (leader,) = leaders
        return leader if leader in ids else None

    def wait_leader(self, timeout: float = 20.0) -> str:
        leader: str = wait_for("an agreed leader", self.leader, timeout)
        return leader

    def followers(self, leader: str) -> list[str]:
        return [nid for nid, n in self.nodes.items() if nid != leader and n.alive()]
