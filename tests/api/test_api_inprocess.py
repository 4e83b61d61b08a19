"""The HTTP API in-process (aiohttp test client) on a node of its own.

The integration tests drive real processes; these cover the input edge cases
quickly: every refusal is JSON with the contract's status, and a node that cannot
reach a quorum answers 503 with Retry-After instead of hanging or guessing.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from senate.api import build_app
from senate.consensus.types import Role
from senate.runtime.config import NodeConfig
from senate.runtime.node import Node

Check = Callable[[TestClient[object, object]], Awaitable[None]]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(tmp_path: Path, check: Check, members: int = 1, fault_admin: bool = False) -> None:
    peer = ("127.0.0.1", _port())
    cluster = {"n1": peer} | {f"n{i}": ("127.0.0.1", _port()) for i in range(2, members + 1)}
    config = NodeConfig(
        "n1",
        tmp_path / "d",
        peer,
        ("127.0.0.1", 0),
        cluster,
        tick_ms=10,
        snapshot_every=7,
        write_timeout=0.3,
        fault_admin=fault_admin,
    )

    async def main() -> None:
        node = Node(config)
        await node.start()
        try:
            if members == 1:
                await _lead(node)
            async with TestClient(TestServer(build_app(node))) as client:
                await check(client)
        finally:
            await node.stop()

    asyncio.run(main())


async def _lead(node: Node) -> None:
    for _ in range(500):
        if node.engine.status().role == Role.LEADER:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never became leader")


async def _chunks(total: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(64 * 1024, total - sent)
        sent += piece
        yield b"x" * piece


def test_refusals_are_json(tmp_path: Path) -> None:
    async def check(client: TestClient[object, object]) -> None:
        async def expect(status: int, error: str, method: str, path: str, **kw: object) -> None:
            resp = await client.request(method, path, **kw)  # type: ignore[arg-type]
            assert resp.status == status, (path, await resp.text())
            body = await resp.json()
            assert body["error"] == error and isinstance(body["message"], str)

        await expect(413, "too_large", "PUT", "/v1/kv/big", data=_chunks((1 << 20) + 1))
        await expect(400, "bad_request", "PUT", "/v1/kv/k?prev_revision=x", data=b"v")
        await expect(
            400, "bad_request", "PUT", "/v1/kv/k", data=b"v", headers={"X-Senate-Client": "c"}
        )
        await expect(
            400, "bad_request", "PUT", "/v1/kv/k", data=b"v",
            headers={"X-Senate-Client": "c", "X-Senate-Seq": "0"},
        )  # fmt: skip
        await expect(400, "bad_request", "GET", "/v1/kv?encoding=hex")
        await expect(400, "bad_request", "GET", "/v1/kv?prefix=a%00")
        await expect(404, "not_found", "GET", "/v1/kv/absent?consistency=serializable")
        await expect(405, "method_not_allowed", "PATCH", "/v1/kv/k")
        await expect(404, "not_found", "PUT", "/v1/admin/faults", data=b"{}")  # flag is off
        ok = await client.put("/v1/kv/big", data=_chunks(1 << 20))
        assert ok.status == 200 and (await ok.json())["revision"] == 1
        got = await client.get("/v1/kv/big")
        assert got.headers["X-Senate-Revision"] == "1" and len(await got.read()) == 1 << 20
        listed = await client.get("/v1/kv", params={"prefix": "b", "encoding": "base64"})
        items = (await listed.json())["items"]
        assert [i["key"] for i in items] == ["big"] and items[0]["revision"] == 1

    _run(tmp_path, check)


def test_no_quorum_is_503_with_retry_after(tmp_path: Path) -> None:
    async def check(client: TestClient[object, object]) -> None:
        for method, path in (("PUT", "/v1/kv/k"), ("GET", "/v1/kv/k"), ("GET", "/v1/kv")):
            resp = await client.request(method, path, data=b"v" if method == "PUT" else None)
            assert resp.status == 503, await resp.text()
            assert resp.headers["Retry-After"] == "1"
            assert (await resp.json())["error"] == "unavailable"
        local = await client.get("/v1/kv", params={"consistency": "serializable"})
        assert local.status == 200 and (await local.json())["items"] == []
        status = await (await client.get("/v1/status")).json()
        assert status["leader"] is None and len(status["members"]) == 3

    _run(tmp_path, check, members=3)


def test_fault_admin_endpoint_when_enabled(tmp_path: Path) -> None:
    async def check(client: TestClient[object, object]) -> None:
        bad = await client.put("/v1/admin/faults", data=b'{"block": [["n1"]]}')
        assert bad.status == 400 and (await bad.json())["error"] == "bad_request"
        assert (await client.put("/v1/admin/faults", data=b"not json")).status == 400
        spec = {"block": [["n1", "n2"]], "default": {"drop": 0.5}}
        ok = await client.put("/v1/admin/faults", json=spec)
        rules = (await ok.json())["rules"]
        assert rules["block"] == [["n1", "n2"]] and rules["default"]["drop"] == 0.5
        now = await (await client.get("/v1/admin/faults")).json()
        assert now["rules"] == rules and "blocked_send" in now["counters"]
        healed = await (await client.put("/v1/admin/faults", json={})).json()
        assert healed["rules"]["block"] == [] and healed["rules"]["default"]["drop"] == 0.0

    _run(tmp_path, check, members=3, fault_admin=True)


def test_txn_if_then_else(tmp_path: Path) -> None:
    async def check(client: TestClient[object, object]) -> None:
        async def txn(doc: object) -> tuple[int, Any]:
            resp = await client.post("/v1/txn", json=doc)
            return resp.status, await resp.json()

        create = {
            "compare": [{"key": "t/a", "target": "create_revision", "op": "==", "value": 0}],
            "success": [
                {"op": "put", "key": "t/a", "value": "1"},
                {"op": "put", "key": "t/b", "value": "2"},
                {"op": "get", "key": "t/a"},
            ],
            "failure": [{"op": "get", "key": "t/a"}],
        }
        status, body = await txn(create)
        assert status == 200 and body["succeeded"] is True and body["revision"] == 1
        assert body["results"][:2] == [{"revision": 1}, {"revision": 1}]
        assert body["results"][2]["kv"]["value"] == "1"
        status, body = await txn(create)  # the key exists now: the failure branch runs
        assert status == 200 and body["succeeded"] is False and body["revision"] == 1
        assert body["results"][0]["kv"]["create_revision"] == 1
        swap = {
            "encoding": "base64",
            "compare": [{"key": "t/b", "target": "value", "op": "==", "value": "Mg=="}],
            "success": [
                {"op": "delete", "key": "t/b"},
                {"op": "put", "key": "t/c", "value": "/w=="},
            ],
        }
        status, body = await txn(swap)
        assert body["succeeded"] and body["results"] == [{"deleted": True}, {"revision": 2}]
        status, body = await txn({"success": [{"op": "get", "key": "t/c"}]})
        kv = body["results"][0]["kv"]
        assert kv["value"] is None and kv["value_base64"] == "/w=="  # not UTF-8 text
        got = await client.get("/v1/kv/t%2Fa")
        assert (
            got.headers["X-Senate-Create-Revision"] == "1" and got.headers["X-Senate-Lease"] == "0"
        )
        for bad in (
            [],
            {"compare": "x"},
            {"success": [{"op": "put", "key": "k"}]},
            {"success": [{"op": "jump", "key": "k"}]},
            {"compare": [{"key": "k", "target": "value", "op": "~", "value": "v"}]},
            {"compare": [{"key": "k", "target": "version", "op": "==", "value": "1"}]},
            {
                "success": [
                    {"op": "put", "key": "k", "value": "1"},
                    {"op": "put", "key": "k", "value": "2"},
                ]
            },
            {"encoding": "base64", "success": [{"op": "put", "key": "k", "value": "!!"}]},
            {"extra": 1},
        ):
            status, body = await txn(bad)
            assert status == 400 and body["error"] == "bad_request", bad
        status, body = await txn(
            {"success": [{"op": "put", "key": "k", "value": "v", "lease": 42}]}
        )
        assert status == 404 and body["error"] == "lease_not_found"
        raw = await client.post("/v1/txn", data=b"{not json")
        assert raw.status == 400

    _run(tmp_path, check)


def test_watch_streams_changes_and_resumes(tmp_path: Path) -> None:
    async def check(client: TestClient[object, object]) -> None:
        async def line(resp: Any) -> dict[str, Any]:
            raw = await asyncio.wait_for(resp.content.readline(), timeout=5)
            parsed: dict[str, Any] = json.loads(raw)
            return parsed

        stream = await client.get("/v1/watch", params={"prefix": "w/", "progress_interval": "0.1"})
        assert stream.status == 200
        assert stream.headers["Content-Type"] == "application/x-ndjson"
        assert stream.headers["X-Senate-Revision"] == "0"  # every change after revision 0
        assert await line(stream) == {"type": "progress", "revision": 0}
        await client.put("/v1/kv/other", data=b"not watched")
        await client.put("/v1/kv/w%2Fa", data=b"1")
        await client.put("/v1/kv/w%2Fb", data=b"\xff")
        await client.delete("/v1/kv/w%2Fa")
        events = []
        while len(events) < 3:
            item = await line(stream)
            if item["type"] != "progress":
                events.append(item)
        assert events == [
            {"type": "put", "key": "w/a", "revision": 2, "value": "1"},
            {"type": "put", "key": "w/b", "revision": 3, "value": None, "value_base64": "/w=="},
            {"type": "delete", "key": "w/a", "revision": 4, "value": ""},
        ]
        stream.close()
        # Resume after the first event: the rest again, nothing skipped or repeated.
        again = await client.get(
            "/v1/watch", params={"key": "w/b", "start_revision": "3", "encoding": "base64"}
        )
        assert again.headers["X-Senate-Revision"] == "2"
        assert await line(again) == {"type": "put", "key": "w/b", "revision": 3, "value": "/w=="}
        again.close()
        later = await client.get("/v1/watch", params={"prefix": "w/"})
        assert later.headers["X-Senate-Revision"] == "4"  # this node's revision at the start
        again.close()
        for params in ({}, {"key": "a", "prefix": "b"}, {"key": "a", "start_revision": "0"}):
            bad = await client.get("/v1/watch", params=params)
            assert bad.status == 400 and (await bad.json())["error"] == "bad_request"

    _run(tmp_path, check)


def test_watch_from_before_the_snapshot_is_410(tmp_path: Path) -> None:
    async def write(client: TestClient[object, object]) -> None:
        for i in range(12):  # snapshot_every 7 in _run's config: the restart loads one
            assert (await client.put(f"/v1/kv/k{i}", data=b"v")).status == 200

    async def check(client: TestClient[object, object]) -> None:
        gone = await client.get("/v1/watch", params={"prefix": "k", "start_revision": "1"})
        assert gone.status == 410
        body = await gone.json()
        assert body["error"] == "compacted" and body["oldest_revision"] > 1

    _run(tmp_path, write)
    _run(tmp_path, check)


def test_leases_keep_keys_alive_until_they_expire(tmp_path: Path) -> None:
    async def check(client: TestClient[object, object]) -> None:
        granted = await client.post("/v1/leases", json={"ttl": 0.4})
        assert granted.status == 200
        lease = await granted.json()
        lease_id = lease["id"]
        assert lease["ttl"] == 0.4 and lease_id >= 1
        put = await client.put(f"/v1/kv/leased?lease={lease_id}", data=b"v")
        assert put.status == 200
        got = await client.get("/v1/kv/leased")
        assert got.headers["X-Senate-Lease"] == str(lease_id)
        for _ in range(6):  # 0.6 s of keepalives, well past the ttl
            await asyncio.sleep(0.1)
            kept = await client.post(f"/v1/leases/{lease_id}/keepalive")
            assert kept.status == 200 and (await kept.json())["ttl"] == 0.4
        info = await (await client.get(f"/v1/leases/{lease_id}")).json()
        assert info["keys"] == ["leased"] and 0 < info["remaining"] <= 0.4
        for _ in range(100):  # no more keepalives: the leader revokes it
            await asyncio.sleep(0.02)
            if (await client.get("/v1/kv/leased")).status == 404:
                break
        assert (await client.get("/v1/kv/leased")).status == 404
        gone = await client.post(f"/v1/leases/{lease_id}/keepalive")
        assert gone.status == 404 and (await gone.json())["error"] == "lease_not_found"
        assert (await client.get(f"/v1/leases/{lease_id}")).status == 404
        # Revoking deletes the attached keys at once.
        other = (await (await client.post("/v1/leases", json={"ttl": 60})).json())["id"]
        await client.put(f"/v1/kv/a?lease={other}", data=b"1")
        await client.put(f"/v1/kv/b?lease={other}", data=b"2")
        revoked = await client.delete(f"/v1/leases/{other}")
        assert revoked.status == 200 and await revoked.json() == {"revoked": True}
        assert (await client.get("/v1/kv/a")).status == 404
        assert (await client.delete(f"/v1/leases/{other}")).status == 404
        unknown = await client.put("/v1/kv/c?lease=12345", data=b"3")
        assert unknown.status == 404 and (await unknown.json())["error"] == "lease_not_found"
        for body in ({"ttl": 0}, {"ttl": True}, {"ttl": "5"}, [], {"x": 1}):
            assert (await client.post("/v1/leases", json=body)).status == 400
        assert (await client.get("/v1/leases/abc")).status == 400

    _run(tmp_path, check)


def test_locks_hand_over_with_growing_fencing_tokens(tmp_path: Path) -> None:
    async def check(client: TestClient[object, object]) -> None:
        async def lock(name: str, ttl: float, wait: float) -> tuple[int, Any]:
            resp = await client.post(f"/v1/locks/{name}", json={"ttl": ttl, "wait": wait})
            return resp.status, await resp.json()

        status, a = await lock("job", 5, 0)
        assert status == 200 and a["key"].startswith("/locks/job/")
        status, b = await lock("job", 5, 0.2)
        assert status == 409 and b["error"] == "timeout"
        waiter = asyncio.ensure_future(lock("job", 5, 5))
        await asyncio.sleep(0.2)
        assert not waiter.done()
        released = await client.delete(f"/v1/locks/job?lease={a['lease']}")
        assert await released.json() == {"released": True}
        status, b = await asyncio.wait_for(waiter, 5)
        assert status == 200 and b["fencing_token"] > a["fencing_token"]
        # Revoking the holder's lease hands the lock on, too.
        waiter = asyncio.ensure_future(lock("job", 0.3, 5))
        await asyncio.sleep(0.1)
        await client.delete(f"/v1/leases/{b['lease']}")
        status, c = await asyncio.wait_for(waiter, 5)
        assert status == 200 and c["fencing_token"] > b["fencing_token"]
        # c never keeps its 0.3 s lease alive: it expires and the next one gets the lock.
        status, d = await lock("job", 5, 5)
        assert status == 200 and d["fencing_token"] > c["fencing_token"]
        gone = await client.delete(f"/v1/locks/job?lease={c['lease']}")
        assert await gone.json() == {"released": False}
        assert (await client.post("/v1/locks/a%2Fb", json={"ttl": 1})).status == 400
        assert (await client.post("/v1/locks/x", json={"ttl": -1})).status == 400
        assert (await client.delete("/v1/locks/x")).status == 400

    _run(tmp_path, check)
