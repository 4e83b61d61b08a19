"""The clients against a real 3-node cluster of `senate node` processes.

What must hold: the key-value calls and their errors match docs/API.md; killing
the node a client talks to (the leader) costs no write and doubles none (every
write is retried with its session, so the store's revision counts each write
once and each key keeps the revision its put returned); a watch connected to the
killed node resumes elsewhere with no gap and no repeat.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from client_cluster import endpoints
from client_fakes import DROP, Reply, Request, serving
from senate_harness import Cluster, http, wait_for

from senate.client import (
    AsyncClient,
    Client,
    Compare,
    CompareFailed,
    Delete,
    Event,
    Get,
    Put,
)


def _node_of(c: Cluster, url: str) -> str:
    return next(nid for nid, n in c.nodes.items() if n.url == url)


def test_put_get_delete_list_and_cas(shared_cluster: Cluster) -> None:
    with Client(endpoints(shared_cluster)) as c:
        r1 = c.put("kv/a", b"1")
        r2 = c.put("kv/b", b"\x00\xff binary")
        assert r2 > r1
        got = c.get("kv/b")
        assert got is not None and (got.value, got.revision) == (b"\x00\xff binary", r2)
        assert got.create_revision == r2
        assert c.get("kv/b", consistency="serializable") is not None
        assert c.get("kv/none") is None
        c.put("kv/empty", b"")
        empty = c.get("kv/empty")
        assert empty is not None and empty.value == b""
        c.delete("kv/empty")
        assert [(kv.key, kv.value, kv.revision) for kv in c.list("kv/")] == [
            ("kv/a", b"1", r1),
            ("kv/b", b"\x00\xff binary", r2),
        ]
        with pytest.raises(CompareFailed) as stale:
            c.put("kv/a", b"2", prev_revision=r1 - 1)
        assert stale.value.mod_revision == r1
        with pytest.raises(CompareFailed):
            c.put("kv/a", b"2", prev_value=b"not 1")
        with pytest.raises(CompareFailed):
            c.put("kv/a", b"2", prev_revision=0)  # 0: must not exist
        r3 = c.put("kv/a", b"2", prev_revision=r1)
        r4 = c.put("kv/c", b"new", prev_revision=0)
        assert c.put("kv/a", b"3", prev_value=b"2") > r4 > r3
        deleted = c.delete("kv/c")
        assert deleted.deleted and deleted.revision > r4
        assert not c.delete("kv/c").deleted
        assert c.get("kv/c") is None


def test_txn_if_then_else(shared_cluster: Cluster) -> None:
    with Client(endpoints(shared_cluster)) as c:
        rev = c.put("txn/x", b"old")
        done = c.txn(
            [Compare.value("txn/x") == b"old", Compare.revision("txn/x") == rev],
            [Put("txn/x", b"new"), Put("txn/y", b"\x01"), Get("txn/x")],
            [Get("txn/x")],
        )
        assert done.succeeded and done.revision > rev
        got = done.results[2].kv
        assert got is not None and got.value == b"new"
        again = c.txn([Compare.value("txn/x") == b"old"], [Delete("txn/x")], [Get("txn/y")])
        assert not again.succeeded
        kv = again.results[0].kv
        assert kv is not None and kv.value == b"\x01"
        assert c.get("txn/x") is not None


def test_async_client_basics(shared_cluster: Cluster) -> None:
    async def main() -> None:
        async with AsyncClient(endpoints(shared_cluster)) as c:
            revs = await asyncio.gather(*(c.put(f"aio/{i}", b"v%d" % i) for i in range(8)))
            assert len(set(revs)) == 8  # concurrent writes, each applied once
            items = await c.list("aio/")
            assert {kv.key: kv.revision for kv in items} == {
                f"aio/{i}": r for i, r in enumerate(revs)
            }
            with pytest.raises(CompareFailed):
                await c.put("aio/0", b"x", prev_revision=0)
            assert (await c.delete("aio/0")).deleted
            assert await c.get("aio/0") is None
            status = await c.status()
            assert status["role"] == "leader"  # the client found the leader
            members = await c.members()
            assert sorted(m.id for m in members) == ["n1", "n2", "n3"]

    asyncio.run(main())


def test_members_list_every_node_with_its_addresses(shared_cluster: Cluster) -> None:
    with Client(endpoints(shared_cluster)) as c:
        # Nodes learn each other's HTTP address within a few seconds of starting.
        members = wait_for(
            "every member's http address",
            lambda: (ms := c.members()) and all(m.http for m in ms) and ms,
            10,
        )
    assert sorted(m.id for m in members) == ["n1", "n2", "n3"]
    assert all(m.voter for m in members)
    assert {f"http://{m.http}" for m in members} == set(endpoints(shared_cluster))
    assert {m.peer for m in members} == {
        f"127.0.0.1:{n.peer_port}" for n in shared_cluster.nodes.values()
    }


def test_a_write_whose_answer_was_lost_is_retried_and_applies_once(
    shared_cluster: Cluster,
) -> None:
    """A proxy in front of the leader forwards the first PUT but drops its answer:
    the client retries with the same session, and the cluster answers from its
    session table instead of applying the write again."""
    leader = shared_cluster.nodes[shared_cluster.wait_leader()].url
    upstream: list[tuple[int, Any]] = []

    def forward(req: Request) -> Any:
        headers = {k: v for k, v in req.headers.items() if k.startswith("x-senate")}
        resp = http(req.method, leader + req.path, req.body or None, headers)
        if req.method == "PUT":
            upstream.append((resp.status, resp.json()))
            if len(upstream) == 1:
                return DROP  # applied, but the client never hears of it
        return Reply(resp.status, resp.body)

    with serving(forward) as [proxy], Client(proxy.url) as c:
        before, _ = c.range("once/")
        revision = c.put("once/k", b"v")
        after, items = c.range("once/")
        sessions = {p.seq for p in proxy.of("PUT", "/v1/kv/once")}
    assert [status for status, _ in upstream] == [200, 200]
    assert upstream[0][1] == upstream[1][1] == {"revision": revision}
    assert sessions == {(c.client_id, "1")}
    assert after == revision == before + 1  # one revision: it applied once
    assert [(kv.key, kv.revision) for kv in items] == [("once/k", revision)]


def test_async_watch_sees_puts_and_deletes_in_order(shared_cluster: Cluster) -> None:
    async def main() -> list[tuple[str, str, bytes | None, int]]:
        async with AsyncClient(endpoints(shared_cluster)) as c:
            start = await c.put("aw/0", b"zero") + 1
            watch = c.watch(prefix="aw/", start_revision=start)
            revs = [await c.put("aw/1", b"one"), (await c.delete("aw/0")).revision]
            got: list[tuple[str, str, bytes | None, int]] = []
            async for e in watch:
                got.append((e.type, e.key, e.value, e.revision))
                if len(got) == 2:
                    break
            await watch.aclose()
            assert revs == [start, start + 1]
            return got

    got = asyncio.run(asyncio.wait_for(main(), 20))
    assert [(t, k, v) for t, k, v, _ in got] == [("put", "aw/1", b"one"), ("delete", "aw/0", None)]
    assert got[1][3] == got[0][3] + 1


class _Collector:
    """Runs a watch in a thread and keeps its events."""

    def __init__(self, client: Client, prefix: str) -> None:
        self.watch = client.watch(prefix=prefix, idle_timeout=3.0)
        self.events: list[Event] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for event in self.watch:
                self.events.append(event)
        except BaseException as exc:
            self.error = exc

    def wait(self, count: int, timeout: float = 20.0) -> None:
        wait_for(f"{count} events", lambda: len(self.events) >= count or self.error, timeout)
        assert self.error is None, self.error

    def close(self) -> None:
        self.watch.close()
        self.thread.join(timeout=10)


def test_killing_the_leader_loses_and_doubles_no_write(cluster: Cluster) -> None:
    c = cluster
    writer = Client(endpoints(c))  # the default retry policy rides out the election
    watcher_client = Client(endpoints(c))
    watch = _Collector(watcher_client, "log/")
    acked: dict[str, int] = {}
    try:
        for i in range(10):
            acked[f"log/{i:03d}"] = writer.put(f"log/{i:03d}", b"%d" % i)
        watch.wait(10)
        leader_url = writer.endpoints.current
        watch_url = watcher_client.endpoints.current
        assert writer.status()["role"] == "leader"

        # Keep writing from a thread while the leader dies under it.
        def keep_writing() -> None:
            for i in range(10, 40):
                acked[f"log/{i:03d}"] = writer.put(f"log/{i:03d}", b"%d" % i)

        t = threading.Thread(target=keep_writing)
        t.start()
        wait_for("writes in flight", lambda: len(acked) >= 13, 10, every=0.001)
        c.kill(_node_of(c, leader_url))
        after_kill = len(acked)
        if watch_url != leader_url:
            c.kill(_node_of(c, watch_url))
            pytest.fail("the watch should be on the leader the client found")
        t.join(timeout=40)
        assert not t.is_alive()
        assert len(acked) == 40
        assert after_kill < 38  # most of the writes met the dead leader
        assert writer.retries > 0  # and some were retried (with their own session)
        assert writer.endpoints.current != leader_url  # it failed over

        revision, items = writer.range("log/")
        # Every write applied exactly once: one revision each, none lost, none twice
        # (a doubled put would move its key's revision past what the put returned).
        assert revision == 40
        assert {kv.key: kv.revision for kv in items} == acked
        assert sorted(acked.values()) == list(range(1, 41))

        watch.wait(40)
        assert watch.watch.reconnects >= 1
        assert [(e.key, e.revision) for e in watch.events] == sorted(
            acked.items(), key=lambda kv: kv[1]
        )
    finally:
        watch.close()
        writer.close()
        watcher_client.close()
