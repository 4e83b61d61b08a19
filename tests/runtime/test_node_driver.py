"""The runtime's Ready loop (runtime/driver.py) on a real single-node Raft engine.

What must hold: proposals that arrive during an fsync share the next one (group
commit); no write is reported applied before the fsync that made its entry
durable returned; reads are released once applied; snapshots compact the store.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable

from senate.consensus.types import DurableState, Entry, HardState, Membership, Role, Snapshot
from senate.kv import KVStore, Put, Request, Result, encode_request
from senate.raft import MessageType, Raft, RaftMessage, raft_factory
from senate.runtime.driver import Driver
from senate.storage import MemoryLogStore


class SlowStore(MemoryLogStore):
    """A MemoryLogStore whose fsync takes `delay` seconds, can be held open (`gate`)
    and records durability."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.fsyncs = 0  # save() calls with sync=True that returned
        self.durable_index = 0  # highest entry index made durable by a finished sync
        self.threads: set[str] = set()
        self._last_written = 0
        self.gate = threading.Event()  # a sync goes ahead only once this is set
        self.gate.set()
        self.syncing = False  # a sync is waiting at the gate

    def save(
        self,
        hard_state: HardState | None,
        entries: list[Entry],
        snapshot: Snapshot | None,
        sync: bool,
    ) -> None:
        if sync:
            self.threads.add(threading.current_thread().name)
            self.syncing = True
            self.gate.wait(timeout=30)
            self.syncing = False
        super().save(hard_state, entries, snapshot, sync)
        if entries:
            self._last_written = entries[-1].index
        if sync:
            time.sleep(self.delay)
            self.fsyncs += 1
            self.durable_index = max(self.durable_index, self._last_written)


def _driver(store: MemoryLogStore, snapshot_every: int = 10_000) -> Driver:
    engine = raft_factory()("n1", Membership(frozenset({"n1"})), store.load(), random.Random(7))
    return Driver(
        engine=engine, store=store, kv=KVStore(), send=lambda m: None, snapshot_every=snapshot_every
    )


async def _lead(driver: Driver) -> None:
    for _ in range(100):
        driver.engine.tick()
        driver.kick()
        await asyncio.sleep(0.001)
        if driver.engine.status().role == Role.LEADER:
            return
    raise AssertionError("a single node never became leader")


async def _write_all(driver: Driver, count: int, store: SlowStore | None = None) -> list[Result]:
    futures: list[asyncio.Future[Result]] = []
    seen_durable: list[int] = []
    for seq in range(1, count + 1):
        data = encode_request(Request("c", seq, Put(f"k{seq:03d}", b"v%d" % seq)))
        fut = driver.wait_write(("c", seq))
        if store is not None:
            fut.add_done_callback(lambda f, s=store: seen_durable.append(s.durable_index))
        futures.append(fut)
        driver.engine.propose(data)
        driver.kick()
        await asyncio.sleep(0.002)  # proposals keep arriving while fsyncs run
    results = await asyncio.wait_for(asyncio.gather(*futures), timeout=20)
    # Write i (at log index i + 1, after the leader's no-op) resolved only after a
    # sync covering its index had returned.
    if store is not None:
        assert all(d >= i + 2 for i, d in enumerate(seen_durable))
    return list(results)


def test_proposals_during_an_fsync_share_the_next_one() -> None:
    # Deterministic: the fsync is held open until every proposal has arrived, instead
    # of pacing proposals against a timed fsync (a loaded machine stretches the pacing
    # sleeps past the fsync and each proposal gets its own: that test was flaky).
    async def main() -> None:
        store = SlowStore(delay=0.0)
        driver = _driver(store)
        task = asyncio.create_task(driver.run())
        await _lead(driver)
        await _write_all(driver, 1, store)
        store.gate.clear()  # the next fsync blocks in the WAL thread until set
        syncs_before = store.fsyncs
        futures: list[asyncio.Future[Result]] = []
        for seq in range(2, 62):
            data = encode_request(Request("c", seq, Put(f"k{seq:03d}", b"v%d" % seq)))
            futures.append(driver.wait_write(("c", seq)))
            driver.engine.propose(data)
            driver.kick()
            if seq == 2:  # the first one's fsync is now under way (and held)
                await _until(lambda: store.syncing)
        for _ in range(5):
            await asyncio.sleep(0.01)  # the loop runs; nothing may overtake the fsync
        assert store.fsyncs == syncs_before and not any(f.done() for f in futures)
        store.gate.set()
        results = await asyncio.wait_for(asyncio.gather(*futures), timeout=20)
        assert [r.revision for r in results] == list(range(2, 62))
        assert all(r.succeeded for r in results)
        # One fsync for the first proposal, one for the 59 that came during it.
        assert store.fsyncs - syncs_before == 2, store.fsyncs - syncs_before
        assert driver.stats.synced_entries >= 61
        # Every fsync ran in the WAL worker thread, off the event loop.
        assert store.threads and all(n.startswith("senate-wal") for n in store.threads)
        assert driver.kv.get("k061") is not None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("timed out")


def test_reads_are_released_once_applied() -> None:
    async def main() -> None:
        store = SlowStore(delay=0.0)
        driver = _driver(store)
        task = asyncio.create_task(driver.run())
        await _lead(driver)
        await _write_all(driver, 3)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        driver.wait_read(b"ctx-1", fut)
        driver.engine.read_index(b"ctx-1")
        driver.kick()
        await asyncio.wait_for(fut, timeout=5)
        assert driver.kv.applied_index >= 4
        forgotten: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        driver.wait_read(b"ctx-2", forgotten)
        driver.forget_read(b"ctx-2")
        driver.engine.read_index(b"ctx-2")
        driver.kick()
        await asyncio.sleep(0.05)
        assert not forgotten.done()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def test_snapshots_compact_and_a_restart_recovers_from_them() -> None:
    async def main() -> MemoryLogStore:
        store = MemoryLogStore()
        driver = _driver(store, snapshot_every=10)
        task = asyncio.create_task(driver.run())
        await _lead(driver)
        await _write_all(driver, 35)
        await asyncio.sleep(0.05)
        assert driver.stats.snapshots >= 3
        assert driver.snap_index >= 30
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return store

    store = asyncio.run(main())
    durable: DurableState = store.load()
    assert durable.snapshot is not None and durable.snapshot.index >= 30
    kv = KVStore.restore(durable.snapshot.data)
    assert kv.applied_index == durable.snapshot.index
    assert kv.get("k001") is not None
    # What the snapshot does not cover is still in the log after it.
    last = durable.entries[-1].index if durable.entries else durable.snapshot.index
    assert last >= 36


def test_a_snapshot_from_the_leader_completes_the_writes_it_covers() -> None:
    leader_kv = KVStore()
    for index in range(1, 11):
        seq = 5 if index == 7 else 100 + index
        client = "c" if index == 7 else f"other-{index}"
        leader_kv.apply(index, encode_request(Request(client, seq, Put("k", b"%d" % index))))
    members = Membership(frozenset({"n1", "n2", "n3"}))
    snap = Snapshot(10, 1, members, leader_kv.snapshot())

    async def main() -> None:
        store = MemoryLogStore()
        engine = raft_factory()("n1", members, store.load(), random.Random(3))
        sent: list[RaftMessage] = []
        driver = Driver(
            engine=engine,
            store=store,
            kv=KVStore(),
            send=lambda m: sent.append(m),  # type: ignore[arg-type]
            snapshot_every=10_000,
        )
        task = asyncio.create_task(driver.run())
        covered = driver.wait_write(("c", 5))
        other = driver.wait_write(("c", 6))  # not in the snapshot: keeps waiting
        engine.step(RaftMessage(MessageType.SNAP, "n2", "n1", 1, snapshot=snap))
        driver.kick()
        result = await asyncio.wait_for(covered, timeout=5)
        assert result.succeeded and result.revision == 7
        assert not other.done()
        assert driver.kv.applied_index == 10 and driver.kv.get("k") is not None
        assert store.load().snapshot == snap  # persisted before it was acknowledged
        assert any(m.type == MessageType.APP_RESP and m.index == 10 for m in sent)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def test_the_stored_snapshot_is_the_one_the_engine_keeps() -> None:
    async def main() -> tuple[MemoryLogStore, Snapshot | None]:
        store = MemoryLogStore()
        driver = _driver(store, snapshot_every=10)
        task = asyncio.create_task(driver.run())
        await _lead(driver)
        await _write_all(driver, 12)
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        engine = driver.engine
        assert isinstance(engine, Raft)
        return store, engine.snapshot

    store, kept = asyncio.run(main())
    saved = store.load().snapshot
    assert saved is not None and kept is not None
    assert (saved.index, saved.term, saved.membership) == (kept.index, kept.term, kept.membership)
    assert saved.data == kept.data
