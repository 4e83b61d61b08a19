"""runtime/node.py in-process: a single-node cluster on a real FileLogStore.

Covers the service the API calls (put, delete, get, range, status), recovery from
the data dir (log and snapshots) and the refusals (503) of a node with no leader.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from senate.consensus.types import Role
from senate.errors import MalformedInput
from senate.runtime.config import NodeConfig
from senate.runtime.node import ClientRef, Node, Unavailable


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _config(data: Path, members: int = 1, **kw: object) -> NodeConfig:
    peer = ("127.0.0.1", _port())
    cluster = {"n1": peer} | {f"n{i}": ("127.0.0.1", _port()) for i in range(2, members + 1)}
    return NodeConfig(
        "n1",
        data,
        peer,
        ("127.0.0.1", _port()),
        cluster,
        tick_ms=10,
        snapshot_every=7,
        **kw,  # type: ignore[arg-type]
    )


async def _lead(node: Node) -> None:
    for _ in range(500):
        if node.engine.status().role == Role.LEADER:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never became leader")


def test_writes_reads_and_recovery(tmp_path: Path) -> None:
    config = _config(tmp_path / "d")

    async def first() -> None:
        node = Node(config)
        await node.start()
        try:
            await _lead(node)
            for i in range(20):
                result = await node.put(f"k/{i:02d}", b"v%d" % i)
                assert result.succeeded and result.revision == i + 1
            deleted = await node.delete("k/05")
            assert deleted.deleted and deleted.revision == 21
            failed = await node.put("k/00", b"x", prev_revision=0)
            assert not failed.succeeded
            mine = ClientRef("me", 1)
            once = await node.put("k/me", b"1", client=mine)
            assert (await node.put("k/me", b"1", client=mine)) == once
            with pytest.raises(MalformedInput):
                await node.put("bad\x00key", b"v")
            kv = await node.get("k/03")
            assert kv is not None and kv.value == b"v3"
            revision, items = await node.range("k/")
            assert revision == 22 and len(items) == 20
            st = node.status()
            assert st["role"] == "leader" and st["leader"] == "n1"
            assert st["snapshot_index"] >= 14 and st["stats"]["snapshots"] >= 2
        finally:
            await node.stop()

    async def second() -> None:
        node = Node(config)
        await node.start()
        try:
            await _lead(node)
            kv = await node.get("k/19")
            assert kv is not None and kv.value == b"v19"
            assert await node.get("k/05") is None
            revision, items = await node.range("k/", linearizable=False)
            assert revision == 22 and len(items) == 20
        finally:
            await node.stop()

    asyncio.run(first())
    asyncio.run(second())


def test_without_a_leader_requests_are_refused(tmp_path: Path) -> None:
    # Two other members that never run: no quorum, no leader, ever.
    config = _config(tmp_path / "d", members=3, write_timeout=0.3)

    async def main() -> None:
        node = Node(config)
        await node.start()
        try:
            with pytest.raises(Unavailable):
                await node.put("k", b"v")
            with pytest.raises(Unavailable):
                await node.get("k")
            assert await node.get("k", linearizable=False) is None
            assert node.status()["leader"] is None
        finally:
            await node.stop()

    asyncio.run(main())
