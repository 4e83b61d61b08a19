"""`senate up`: a local N-node cluster of real `senate node` processes on loopback.

Port scheme (base port P, default 7100; node i counts from 1):
    peer  127.0.0.1:P+i          (7101, 7102, 7103)
    http  127.0.0.1:P+1000+i     (8101, 8102, 8103)
    resp  127.0.0.1:P-1000+i     (6101, 6102, 6103)
The defaults avoid the well-known ports of common services (HTTP 8080, Redis 6379,
etcd 2379/2380, Postgres 5432) and match CONTRACT.md's examples, so
`senate status` finds the cluster with no flags.

Rules this file keeps:
- Every port is checked free before any node starts; a busy one exits 1 naming it.
- Node i keeps its data in DATA_DIR/n<i> and its log in DATA_DIR/n<i>.log;
  restarting `senate up` with the same data dir recovers the cluster.
- `--protocol raft|multipaxos|zab` (default raft) is passed to every node. A data
  dir remembers its protocol: `senate up` with another one exits 2 before any
  node starts, naming the protocol the data dir holds.
- It prints every endpoint, waits (bounded) until every node answers /v1/status,
  then stays in the foreground. If a node exits on its own it says so (with its
  exit code and log file) and goes on while others run.
- Ctrl-C or SIGTERM stops all nodes: SIGTERM to each, then SIGKILL to any still
  alive after a grace period. Exit 0 when every node stopped cleanly, 1 otherwise.
- On Linux each node gets PR_SET_PDEATHSIG, so even a `kill -9` of this process
  does not leave orphaned nodes behind.
"""

from __future__ import annotations

import ctypes
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

import click

from senate.errors import SenateError
from senate.runtime.config import DEFAULT_PROTOCOL, PROTOCOLS
from senate.runtime.engines import check_protocol

DEFAULT_BASE_PORT = 7100
HTTP_OFFSET = 1000
RESP_OFFSET = -1000
HOST = "127.0.0.1"
START_TIMEOUT = 30.0  # seconds for every node to answer /v1/status
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
_PR_SET_PDEATHSIG = 1


@dataclass(slots=True)
class Member:
    node_id: str
    peer_port: int
    http_port: int
    resp_port: int
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None
    reported: bool = False  # its exit was already announced

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"


@dataclass(slots=True)
class _Stop:
    requested: bool = False
    signals: list[int] = field(default_factory=list)

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        self.signals.append(signum)

    def is_set(self) -> bool:
        return self.requested


def plan(nodes: int, base_port: int, data_dir: Path) -> list[Member]:
    """The members `senate up` starts (ids, ports, directories); no side effects."""
    return [
        Member(
            node_id=f"n{i}",
            peer_port=base_port + i,
            http_port=base_port + HTTP_OFFSET + i,
            resp_port=base_port + RESP_OFFSET + i,
            data_dir=data_dir / f"n{i}",
            log_path=data_dir / f"n{i}.log",
        )
        for i in range(1, nodes + 1)
    ]


@click.command()
@click.option("--nodes", type=click.IntRange(1, 15), default=3, show_default=True)
@click.option(
    "--base-port",
    type=click.IntRange(1025 - RESP_OFFSET, 65535 - HTTP_OFFSET - 15),
    default=DEFAULT_BASE_PORT,
    show_default=True,
    help="Peer ports are P+i, HTTP ports P+1000+i.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=Path("senate-data"),
    show_default=True,
)
@click.option(
    "--protocol",
    type=click.Choice(PROTOCOLS),
    default=DEFAULT_PROTOCOL,
    show_default=True,
    help="The consensus engine every node runs.",
)
def up(nodes: int, base_port: int, data_dir: Path, protocol: str) -> None:
    """Start a local cluster in the foreground; Ctrl-C stops every node."""
    members = plan(nodes, base_port, data_dir)
    for m in members:
        check_protocol(m.data_dir, protocol)  # UsageError (exit 2) naming what it holds
    busy = [
        p
        for m in members
        for p in (m.peer_port, m.http_port, m.resp_port)
        if not _port_free(p)
    ]
    if busy:
        raise SenateError(
            f"port(s) {', '.join(map(str, busy))} on {HOST} are in use "
            "(another `senate up`?); choose another --base-port"
        )
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SenateError(f"cannot create data dir {data_dir}: {exc.strerror or exc}") from None
    stop = _Stop()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    cluster = ",".join(f"{m.node_id}={HOST}:{m.peer_port}" for m in members)
    say(f"senate up: starting {nodes} {protocol} node(s), data in {data_dir}")
    try:
        for m in members:
            _spawn(m, cluster, protocol)
            say(
                f"  {m.node_id}  http {m.http_url}  resp {HOST}:{m.resp_port}  "
                f"peer {HOST}:{m.peer_port}  "
                f"pid {m.proc.pid if m.proc else '?'}  log {m.log_path}"
            )
        code = _run(members, stop)
    finally:
        code_after = _stop_all(members)
    raise SystemExit(code if code != 0 else code_after)


def say(text: str) -> None:
    click.echo(text)
    sys.stdout.flush()


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel to SIGTERM this
    # node when `senate up` dies, however it dies.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return


def _spawn(m: Member, cluster: str, protocol: str) -> None:
    m.log_file = open(m.log_path, "ab")  # noqa: SIM115 - closed in _stop_all
    argv = [
        sys.executable,
        "-c",
        "from senate.cli.main import main; main()",
        "node",
        "--id",
        m.node_id,
        "--data-dir",
        str(m.data_dir),
        "--peer",
        f"{HOST}:{m.peer_port}",
        "--http",
        f"{HOST}:{m.http_port}",
        "--resp",
        f"{HOST}:{m.resp_port}",
        "--cluster",
        cluster,
        "--protocol",
        protocol,
    ]
    m.proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=m.log_file,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )


def _status(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"{url}/v1/status", timeout=1.0) as resp:
            body = json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return body if isinstance(body, dict) else None


def _report_exits(members: list[Member]) -> None:
    for m in members:
        if m.proc is not None and not m.reported and m.proc.poll() is not None:
            m.reported = True
            code = m.proc.returncode
            say(f"senate up: node {m.node_id} exited with code {code} (see {m.log_path})")


def _alive(members: list[Member]) -> list[Member]:
    return [m for m in members if m.proc is not None and m.proc.poll() is None]


def _run(members: list[Member], stop: _Stop) -> int:
    """Wait for the cluster, then watch it until a signal or until every node is gone."""
    deadline = time.monotonic() + START_TIMEOUT
    leader: object = None
    while not stop.is_set():
        _report_exits(members)
        if not _alive(members):
            say("senate up: every node exited during start-up")
            return 1
        answers = {m.node_id: _status(m.http_url) for m in members}
        silent = sorted(nid for nid, st in answers.items() if st is None)
        leader = next(
            (st.get("leader") for st in answers.values() if st and st.get("leader")), None
        )
        if not silent and leader is not None:
            break
        if time.monotonic() > deadline:
            if silent:
                say(f"senate up: no answer from {', '.join(silent)} in {START_TIMEOUT:g} s")
                return 1
            break  # every node is up; the election is just slow
        time.sleep(0.2)
    if stop.is_set():
        return 0
    say(f"senate up: cluster ready (leader {leader or 'being elected'}); Ctrl-C stops all nodes")
    while not stop.is_set():
        _report_exits(members)
        if not _alive(members):
            say("senate up: every node has exited")
            return 1
        time.sleep(0.2)
    return 0


def _stop_all(members: list[Member]) -> int:
    """SIGTERM every node, SIGKILL stragglers; 0 if every node stopped cleanly."""
    live = _alive(members)
    if live:
        say(f"senate up: stopping {len(live)} node(s)")
    for m in live:
        if m.proc is not None:
            m.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    code = 0
    for m in members:
        if m.proc is None:
            continue
        try:
            m.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"senate up: node {m.node_id} did not stop in {STOP_GRACE:g} s; killing it")
            m.proc.kill()
            m.proc.wait()
            code = 1
        if m in live and m.proc.returncode != 0:
            code = 1
        if m.log_file is not None:
            m.log_file.close()
    if live:
        say("senate up: all nodes stopped")
    return code
