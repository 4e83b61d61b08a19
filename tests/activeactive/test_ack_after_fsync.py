"""Acknowledged means durable: no RESP reply to a write leaves the replica before the
durable log's fsync of that write returns.

The replica runs in process (its own event loop in a thread); the WAL's sync is held
on a gate the test opens. While it is held, the writes are applied in memory but wait
unanswered; once it returns, every held reply goes out."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from senate.activeactive import containers as _containers  # noqa: F401  (registers commands)
from senate.activeactive.service import ActiveActiveService


@contextlib.contextmanager
def replica_in_thread(data_dir: Path) -> Iterator[tuple[ActiveActiveService, int]]:
    loop = asyncio.new_event_loop()
    service = ActiveActiveService(
        "n1",
        data_dir,
        ["n1"],
        send=lambda msg: None,
        rng=random.Random(1),
        clock_ms=lambda: int(time.time() * 1000),
    )
    ready: list[int] = []
    started = threading.Event()

    async def main() -> None:
        await service.start()
        _host, port = await service.serve_resp("127.0.0.1", 0)
        ready.append(port)
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(main(), loop).result(10)
    assert started.wait(10)
    try:
        yield service, ready[0]
    finally:
        asyncio.run_coroutine_threadsafe(service.close(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def gate_fsync(service: ActiveActiveService) -> tuple[threading.Event, threading.Event]:
    """Hold every WAL fsync until `release` is set; `entered` is set when one waits."""
    wal = service.log._wal
    assert wal is not None
    real_sync = wal.sync
    entered, release = threading.Event(), threading.Event()

    def held_sync() -> None:
        entered.set()
        assert release.wait(20), "the test never released the fsync"
        real_sync()

    wal.sync = held_sync
    # Make the committer fsync in its worker thread (as on a real disk), not inline on
    # the event loop, so the server stays responsive while the fsync is held.
    service.log._last_sync = 1.0
    return entered, release


def in_thread(fn: Any, *args: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["reply"] = fn(*args)
        except Exception as exc:  # reported by the assertions below
            out["error"] = exc
        out["at"] = time.monotonic()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_no_write_reply_leaves_before_its_fsync_returns(tmp_path: Path) -> None:
    with replica_in_thread(tmp_path / "n1") as (service, port):
        c1 = redis.Redis(port=port, socket_timeout=20)
        c2 = redis.Redis(port=port, socket_timeout=20)
        assert c1.set("warm", "up")  # the log works before the gate
        fsyncs = service.log.fsyncs
        entered, release = gate_fsync(service)
        t1, set_out = in_thread(c1.set, "k", "v")
        assert entered.wait(5), "the write never reached the durable log's fsync"
        pipe = c2.pipeline(transaction=False)
        pipe.incr("n")
        pipe.sadd("s", "a")
        pipe.zincrby("z", 1.5, "m")
        pipe.hincrbyfloat("h", "f", 0.5)
        t2, pipe_out = in_thread(pipe.execute)
        time.sleep(0.5)
        # Both writes are applied in memory, but neither is acknowledged yet.
        assert set_out == {} and pipe_out == {}, (set_out, pipe_out)
        assert service.log.durable() < service.log.barrier()
        released_at = time.monotonic()
        release.set()
        t1.join(10)
        t2.join(10)
        assert set_out.get("reply") is True, set_out
        assert pipe_out.get("reply") == [1, 1, 1.5, 0.5], pipe_out
        assert set_out["at"] >= released_at and pipe_out["at"] >= released_at
        assert service.log.fsyncs > fsyncs
        assert service.log.durable() == service.log.barrier()
        for c in (c1, c2):
            c.close()
