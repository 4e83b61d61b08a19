"""`GET /v1/metrics` in-process: the counters exist, only go up, and move with a write."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from senate.api import build_app
from senate.consensus.types import Role
from senate.runtime.config import NodeConfig
from senate.runtime.node import Node


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _config(tmp_path: Path, members: int) -> NodeConfig:
    cluster = {f"n{i}": ("127.0.0.1", _port()) for i in range(1, members + 1)}
    return NodeConfig("n1", tmp_path / "d", cluster["n1"], ("127.0.0.1", 0), cluster, tick_ms=10)


async def _metrics(client: TestClient[Any, Any]) -> dict[str, Any]:
    resp = await client.get("/v1/metrics")
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


def test_metrics_count_the_fsyncs_and_entries_of_a_write(tmp_path: Path) -> None:
    async def main() -> None:
        node = Node(_config(tmp_path, 1))
        await node.start()
        try:
            for _ in range(500):
                if node.engine.status().role == Role.LEADER:
                    break
                await asyncio.sleep(0.01)
            async with TestClient(TestServer(build_app(node))) as client:
                before = await _metrics(client)
                assert before["id"] == "n1" and before["role"] == "leader"
                assert before["protocol"] == node.engine.status().protocol
                for key in ("syncs", "synced_entries", "applied", "readies"):
                    assert isinstance(before["driver"][key], int)
                for key in ("sent", "received", "dropped"):
                    assert isinstance(before["transport"][key], int)
                assert before["peers"] == {}
                assert before["process"]["cpu_user_s"] >= 0
                assert (await client.put("/v1/kv/a", data=b"1")).status == 200
                after = await _metrics(client)
                assert after["driver"]["syncs"] > before["driver"]["syncs"]
                assert after["driver"]["applied"] >= before["driver"]["applied"] + 1
                assert after["revision"] == before["revision"] + 1
                assert (await client.post("/v1/metrics")).status == 405  # read-only
        finally:
            await node.stop()

    asyncio.run(main())


def test_metrics_list_every_peer(tmp_path: Path) -> None:
    async def main() -> None:
        node = Node(_config(tmp_path, 3))
        await node.start()
        try:
            async with TestClient(TestServer(build_app(node))) as client:
                got = await _metrics(client)
                assert sorted(got["peers"]) == ["n2", "n3"]
                assert set(got["peers"]["n2"]) >= {"sent", "received", "dropped", "lost"}
        finally:
            await node.stop()

    asyncio.run(main())
