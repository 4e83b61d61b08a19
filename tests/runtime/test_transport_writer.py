"""The transport's per-peer writer outlives whatever its connection does, on both event
loops the runtime uses (asyncio's and uvloop's): a writer task that ended would cut the
link to that peer for good, silently (the queue in front of it only drops)."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import pytest
from tests.runtime.test_transport import close_all, cluster, wait_until

from senate.runtime.transport import Transport
from senate.wire.probe import Probe

LOOPS = ["asyncio"] + (["uvloop"] if importlib.util.find_spec("uvloop") else [])


def run_on(loop: str, coro: Coroutine[Any, Any, None], timeout: float = 10.0) -> None:
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if loop == "uvloop":
        import uvloop  # type: ignore[import-not-found, unused-ignore]

        factory = uvloop.new_event_loop

    async def bounded() -> None:
        async with asyncio.timeout(timeout):
            await coro

    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(bounded())


def writer_task(t: Transport, peer: str) -> asyncio.Task[None]:
    task = t._peers[peer].task
    assert task is not None
    return task


async def keep_sending_until_heard(a: Transport, inbox: Sequence[object], first: int) -> None:
    """Probes written into a dying connection may be lost; retry until one arrives."""
    seq = first
    while not any(isinstance(m, Probe) and m.seq >= first for m in inbox):
        a.send(Probe("a", "b", seq))
        seq += 1
        await asyncio.sleep(0.02)
        assert seq < first + 250, "a never reached b again"


@pytest.mark.parametrize("loop", LOOPS)
def test_writer_survives_a_connection_closed_under_it(loop: str) -> None:
    """The state a reset leaves behind when the loop processes it before the connection's
    watcher runs: the transport is closed, the writer is woken first. uvloop then raises
    RuntimeError on write; that used to end the writer task, and the peer never heard
    from this node again (the active-active flake: n2 never synced n1 after its restart)."""

    async def main() -> None:
        nodes = await cluster("a", "b")
        a, b = nodes["a"], nodes["b"]
        try:
            a.t.send(Probe("a", "b", 0))
            await wait_until(lambda: len(b.inbox) == 1, "the first probe")
            conn = a.t._peers["b"].conn
            assert conn is not None
            conn.writer.transport.abort()  # closed now; connection_lost comes later
            a.t.send(Probe("a", "b", 1))  # wakes the writer before the watcher
            await keep_sending_until_heard(a.t, b.inbox, 1)
            assert not writer_task(a.t, "b").done()
            assert a.t.peer_counters("b").reconnects >= 1
        finally:
            await close_all(nodes)

    run_on(loop, main())


@pytest.mark.parametrize("loop", LOOPS)
def test_writer_restarts_after_an_unexpected_error(
    loop: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Any other error in the writer is logged and the writer goes on."""

    async def main() -> None:
        nodes = await cluster("a", "b")
        a, b = nodes["a"], nodes["b"]
        real_write = a.t._write
        calls = 0

        async def failing_once(*args: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise ValueError("a bug in the writer")
            await real_write(*args)

        a.t._write = failing_once  # type: ignore[method-assign]
        try:
            a.t.send(Probe("a", "b", 0))
            await wait_until(lambda: calls >= 1, "the failing write")
            await keep_sending_until_heard(a.t, b.inbox, 1)
            assert not writer_task(a.t, "b").done()
        finally:
            await close_all(nodes)

    with caplog.at_level(logging.ERROR, logger="senate.transport"):
        run_on(loop, main())
    assert any("writer to b failed" in r.getMessage() for r in caplog.records)
