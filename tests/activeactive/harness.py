"""Real replica processes for integration tests (`python -m senate.activeactive`).

Peer ports are picked by binding port 0 and releasing it (they must be known to every
replica up front); RESP ports are bound by the replica itself (port 0) and read from its
READY line, so a restarted replica may answer on a new RESP port. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import redis

STARTUP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Replica:
    def __init__(
        self, node_id: str, data_dir: Path, peer_port: int, cluster: str, *extra: str
    ) -> None:
        self.extra = list(extra)
        self.id = node_id
        self.data_dir = data_dir
        self.peer_port = peer_port
        self.cluster = cluster
        self.proc: subprocess.Popen[bytes] | None = None
        self.resp_port = 0
        self.log = data_dir.parent / f"{node_id}.log"

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "senate.activeactive",
            "--id",
            self.id,
            "--data-dir",
            str(self.data_dir),
            "--resp",
            "127.0.0.1:0",
            "--peer",
            f"127.0.0.1:{self.peer_port}",
            "--cluster",
            self.cluster,
            "--admin",
            "--sync-interval",
            "0.1",
            "--log-level",
            "INFO",
            *self.extra,
        ]
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                self.kill9()
                raise TimeoutError(f"{self.id} did not start; see {self.log}")
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"{self.id} exited at start: {self.log.read_text()[-2000:]}")
            line += chunk
        sel.close()
        fields = dict(part.split("=", 1) for part in line.decode().split()[1:])
        self.resp_port = int(fields["resp"].rsplit(":", 1)[1])

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc = None

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of this replica's log (every run of it appends there)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def client(self, timeout: float = 5.0, protocol: int = 2) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.resp_port,
            socket_timeout=timeout,
            socket_connect_timeout=2,
            protocol=protocol,
        )

    def fault(self, spec: dict[str, object]) -> None:
        with contextlib.closing(self.client()) as c:
            c.execute_command("SENATE.FAULT", json.dumps(spec))


def make_cluster(root: Path, n: int, *extra: str) -> list[Replica]:
    ids = [f"n{i + 1}" for i in range(n)]
    ports = {i: free_port() for i in ids}
    spec = ",".join(f"{i}=127.0.0.1:{ports[i]}" for i in ids)
    return [Replica(i, root / i, ports[i], spec, *extra) for i in ids]


@contextlib.contextmanager
def running(root: Path, n: int, *extra: str) -> Iterator[list[Replica]]:
    replicas = make_cluster(root, n, *extra)
    try:
        for r in replicas:
            r.start()
        yield replicas
    finally:
        for r in replicas:
            r.kill9()


@contextlib.contextmanager
def logs_on_failure(replicas: list[Replica], lines: int = 60) -> Iterator[None]:
    """On any failure inside, print each replica's log tail (pytest shows it with the
    failure) before the error goes on."""
    try:
        yield
    except BaseException:
        for r in replicas:
            print(f"----- {r.id} log tail ({r.log}) -----\n{r.log_tail(lines)}")
        raise


def partition(replicas: list[Replica], side: list[str]) -> None:
    """Cut the replicas in `side` off from the others, both ways (empty side: heal)."""
    ids = [r.id for r in replicas]
    block = [[a, b] for a in ids for b in ids if (a in side) != (b in side)]
    for r in replicas:
        r.fault({"block": block})
