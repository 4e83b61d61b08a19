"""A replica that lost its data dir, on real processes (replication.py, "Origins"):
- wiped: it restarts empty, is writable at once, and its new writes reach every peer
  (before origins, they reused dots the peers had seen and were dropped as duplicates),
  while anti-entropy gives it its old data back;
- restored from an older copy of itself: a peer's sync shows it its own origin further
  along than it is; it takes a fresh origin, and what it writes after that converges."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import redis
from tests.activeactive.harness import Replica, logs_on_failure, running

WITHIN = 15.0


def wait_for(what: str, pred: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WITHIN
    while not pred():
        assert time.monotonic() < deadline, f"not within {WITHIN}s: {what}"
        time.sleep(0.05)


def view(r: Replica) -> tuple[object, ...]:
    c = r.client(timeout=10)
    try:
        return (sorted(c.smembers("s")), c.get("c"), c.get("k"))
    finally:
        c.close()


def origin(r: Replica) -> str:
    c = r.client(timeout=10)
    try:
        return str(c.info("replication")["origin"])
    finally:
        c.close()


def all_see(replicas: list[Replica], want: tuple[object, ...]) -> Callable[[], bool]:
    return lambda: all(view(r) == want for r in replicas)


def write(r: Replica, members: list[str], incr: int, value: str) -> None:
    c: redis.Redis = r.client(timeout=10)
    try:
        for m in members:
            assert c.sadd("s", m) == 1
        c.incrby("c", incr)
        assert c.set("k", value)
    finally:
        c.close()


def test_a_wiped_replica_rejoins_and_its_new_writes_reach_every_peer(tmp_path: Path) -> None:
    with running(tmp_path, 3) as replicas, logs_on_failure(replicas):
        n1, _n2, _n3 = replicas
        old = [f"old{i}" for i in range(30)]
        write(n1, old, 5, "old")
        before = origin(n1)
        wait_for(
            "the old writes everywhere",
            all_see(replicas, (sorted(m.encode() for m in old), b"5", b"old")),
        )
        n1.kill9()
        shutil.rmtree(n1.data_dir)
        n1.start()
        write(n1, ["new"], 7, "new")  # at once: no peer needs to answer first
        assert origin(n1) != before
        want = (sorted(m.encode() for m in [*old, "new"]), b"12", b"new")
        wait_for("old and new writes on every replica", all_see(replicas, want))


def test_a_replica_restored_from_an_older_copy_takes_a_fresh_origin(tmp_path: Path) -> None:
    with running(tmp_path, 3) as replicas, logs_on_failure(replicas):
        n1, _n2, _n3 = replicas
        write(n1, ["a"], 1, "a")
        wait_for("the first writes everywhere", all_see(replicas, ([b"a"], b"1", b"a")))
        n1.stop()
        backup = tmp_path / "n1-backup"
        shutil.copytree(n1.data_dir, backup)
        n1.start()
        first = origin(n1)
        write(n1, ["b", "c"], 2, "b")
        wait_for("the later writes everywhere", all_see(replicas, ([b"a", b"b", b"c"], b"3", b"b")))
        n1.kill9()
        shutil.rmtree(n1.data_dir)
        shutil.copytree(backup, n1.data_dir)
        n1.start()
        wait_for("n1 noticing that peers know more of its origin", lambda: origin(n1) != first)
        write(n1, ["d"], 4, "d")
        want = ([b"a", b"b", b"c", b"d"], b"7", b"d")
        wait_for("everything on every replica", all_see(replicas, want))
        assert "restored from an older copy" in n1.log.read_text()
