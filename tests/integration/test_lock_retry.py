"""Retry-safe lock acquire on a real cluster: POST /v1/locks/{name} with the client's
own lease ("lease": ID, as etcd's lock API) is the same contender on every retry:
same key, same place in the queue, same fencing token. Giving up on the client's
lease deletes the contender key and leaves the lease alive; an unknown lease is
404, a malformed one 400, and neither changes anything.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from senate_harness import Cluster, Response, http, wait_for

from senate.client import AsyncClient, Client, Lease, LockGrant, LockTimeout, NotFound

sys.path.insert(0, str(Path(__file__).parent.parent / "client"))
from client_fakes import DROP, Reply, Request, serving


def _grant(c: Cluster, nid: str, ttl: float = 10) -> int:
    resp = c.request(nid, "POST", "/v1/leases", json.dumps({"ttl": ttl}).encode())
    assert resp.status == 200, resp.body
    lease = resp.json()["id"]
    assert isinstance(lease, int)
    return lease


def _acquire(c: Cluster, nid: str, name: str, timeout: float = 30, **doc: Any) -> Response:
    return c.request(nid, "POST", f"/v1/locks/{name}", json.dumps(doc).encode(), timeout=timeout)


def _contenders(c: Cluster, nid: str, name: str) -> list[str]:
    resp = c.request(nid, "GET", f"/v1/kv?prefix=/locks/{name}/")
    assert resp.status == 200, resp.body
    return sorted(item["key"] for item in resp.json()["items"])


def _create_revision(c: Cluster, nid: str, key: str) -> int:
    resp = c.get(nid, key)
    assert resp.status == 200, resp.body
    headers = {k.lower(): v for k, v in resp.headers.items()}
    return int(headers["x-senate-create-revision"])


def test_a_retried_acquire_with_the_same_lease_gets_the_same_hold(
    shared_cluster: Cluster,
) -> None:
    c = shared_cluster
    a, b = sorted(c.nodes)[:2]
    lease = _grant(c, a)
    first = _acquire(c, a, "retry-same", lease=lease, wait=5)
    assert first.status == 200, first.body
    again = _acquire(c, b, "retry-same", lease=lease, wait=5)  # the answer was "lost"
    assert again.status == 200, again.body
    assert again.json() == first.json()
    assert first.json()["key"] == f"/locks/retry-same/{lease:x}"
    assert first.json()["lease"] == lease
    assert _contenders(c, a, "retry-same") == [first.json()["key"]]
    released = c.request(a, "DELETE", f"/v1/locks/retry-same?lease={lease}")
    assert released.json() == {"released": True}, released.body
    assert c.request(a, "GET", f"/v1/leases/{lease}").status == 200  # release keeps it


def test_a_retry_while_another_holds_waits_in_the_same_place(shared_cluster: Cluster) -> None:
    c = shared_cluster
    a, b, d = sorted(c.nodes)
    held = _acquire(c, a, "retry-busy", ttl=10)
    assert held.status == 200, held.body
    holder = held.json()
    lease = _grant(c, a)
    mine = f"/locks/retry-busy/{lease:x}"
    # The first attempt's answer is lost: the client stops listening after 1 s while
    # the node keeps waiting (up to 2 s) with the contender key queued.
    with pytest.raises(OSError):
        _acquire(c, b, "retry-busy", timeout=1, lease=lease, wait=2)
    assert _contenders(c, a, "retry-busy") == sorted([holder["key"], mine])
    place = _create_revision(c, a, mine)
    got: list[Response] = []
    retry = threading.Thread(
        target=lambda: got.append(_acquire(c, d, "retry-busy", lease=lease, wait=20))
    )
    retry.start()
    try:
        # The first attempt's wait runs out meanwhile: it must not take the key away
        # from the retry (which rewrote it), and the retry does not queue twice.
        for _ in range(15):
            threading.Event().wait(0.2)
            assert _contenders(c, a, "retry-busy") == sorted([holder["key"], mine])
        assert not got
        assert _create_revision(c, a, mine) == place  # same place in the queue
        gone = c.request(a, "DELETE", f"/v1/locks/retry-busy?lease={holder['lease']}")
        assert gone.json() == {"released": True}
    finally:
        retry.join(30)
    assert got and got[0].status == 200, got and got[0].body
    assert got[0].json()["fencing_token"] == place > holder["fencing_token"]
    assert got[0].json()["key"] == mine
    assert _contenders(c, a, "retry-busy") == [mine]
    c.request(a, "DELETE", f"/v1/leases/{lease}")


def test_giving_up_on_a_client_lease_deletes_the_key_and_keeps_the_lease(
    shared_cluster: Cluster,
) -> None:
    c = shared_cluster
    a, b = sorted(c.nodes)[:2]
    held = _acquire(c, a, "retry-giveup", ttl=10)
    assert held.status == 200, held.body
    lease = _grant(c, b)
    refused = _acquire(c, b, "retry-giveup", lease=lease, wait=0.5)
    assert refused.status == 409 and refused.json()["error"] == "timeout", refused.body
    assert _contenders(c, a, "retry-giveup") == [held.json()["key"]]
    info = c.request(a, "GET", f"/v1/leases/{lease}")
    assert info.status == 200, info.body  # the client's lease is alive
    # A node-granted lease is still revoked when the node gives up.
    node_granted = _acquire(c, b, "retry-giveup", ttl=10, wait=0.2)
    assert node_granted.status == 409
    assert _contenders(c, a, "retry-giveup") == [held.json()["key"]]
    c.request(a, "DELETE", f"/v1/locks/retry-giveup?lease={held.json()['lease']}")
    got = _acquire(c, b, "retry-giveup", lease=lease, wait=5)  # the same lease, later
    assert got.status == 200, got.body
    c.request(a, "DELETE", f"/v1/leases/{lease}")


def test_an_unknown_lease_is_404_and_a_bad_one_400(shared_cluster: Cluster) -> None:
    c = shared_cluster
    a = sorted(c.nodes)[0]
    unknown = _acquire(c, a, "retry-bad", lease=0x5E1A7E, wait=1)
    assert unknown.status == 404, unknown.body
    assert unknown.json()["error"] == "lease_not_found"
    lease = _grant(c, a)
    revoked = c.request(a, "DELETE", f"/v1/leases/{lease}")
    assert revoked.status == 200, revoked.body
    assert _acquire(c, a, "retry-bad", lease=lease).status == 404
    bad: list[Any] = ["1", 1.5, True, 0, -1, 1 << 63, None, [1], {"id": 1}]
    for value in bad:
        resp = _acquire(c, a, "retry-bad", lease=value)
        assert resp.status == 400, (value, resp.body)
        assert resp.json()["error"] == "bad_request", resp.body
    good = _grant(c, a)
    for doc in ({"lease": good, "wait": -1}, {"lease": good, "ttl": "x"}, {"lease": good, "x": 1}):
        resp = c.request(a, "POST", "/v1/locks/retry-bad", json.dumps(doc).encode())
        assert resp.status == 400, (doc, resp.body)
    resp = _acquire(c, a, "bad%01name", lease=good)
    assert resp.status == 400, resp.body
    assert _contenders(c, a, "retry-bad") == []
    assert c.request(a, "GET", f"/v1/leases/{good}").json()["keys"] == []


class _Recording(Client):
    """A Client that remembers the leases it granted."""

    granted: list[int]

    def lease_grant(self, ttl: float) -> Lease:
        lease = super().lease_grant(ttl)
        self.granted = [*getattr(self, "granted", []), lease.id]
        return lease


def test_the_client_acquires_on_its_own_lease_and_revokes_it_on_giving_up(
    shared_cluster: Cluster,
) -> None:
    c = shared_cluster
    first = sorted(c.nodes)[0]
    with _Recording([c.nodes[nid].url for nid in sorted(c.nodes)]) as client:
        grant = client.lock_acquire("retry-client", ttl=10, wait=5)
        assert client.granted == [grant.lease]  # granted first, then acquired on it
        # Acquiring again on the same lease is the same hold (what a retry sees).
        assert client.lock_acquire("retry-client", wait=5, lease=grant.lease) == grant
        with pytest.raises(LockTimeout):
            client.lock_acquire("retry-client", ttl=10, wait=0.3)
        assert len(client.granted) == 2
        with pytest.raises(NotFound):  # the lease of the failed attempt was revoked
            client.lease_info(client.granted[1])
        assert _contenders(c, first, "retry-client") == [grant.key]
        assert client.lock_release("retry-client", grant.lease)
        assert client.lease_info(grant.lease).id == grant.lease
        client.lease_revoke(grant.lease)
    wait_for("nothing queued", lambda: _contenders(c, first, "retry-client") == [], 5)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_the_client_retries_a_lost_answer_with_the_same_lease(
    shared_cluster: Cluster, flavour: str
) -> None:
    """A proxy forwards the first lock POST but drops its answer: the client retries
    with the same lease and gets the same hold; one contender key, one lease."""
    c = shared_cluster
    first = sorted(c.nodes)[0]
    node = c.nodes[first].url
    name = f"retry-lost-{flavour}"
    upstream: list[tuple[int, Any]] = []

    def forward(req: Request) -> Any:
        resp = http(req.method, node + req.path, req.body or None, timeout=30)
        if req.method == "POST" and req.path.startswith("/v1/locks/"):
            upstream.append((resp.status, resp.json()))
            if len(upstream) == 1:
                return DROP  # held, but the client never hears of it
        return Reply(resp.status, resp.body)

    with serving(forward) as [proxy]:
        if flavour == "sync":
            with Client(proxy.url) as client:
                grant = client.lock_acquire(name, ttl=10, wait=5)
                client.lock_release(name, grant.lease)
                client.lease_revoke(grant.lease)
        else:

            async def main() -> LockGrant:
                async with AsyncClient(proxy.url) as client:
                    grant = await client.lock_acquire(name, ttl=10, wait=5)
                    assert _contenders(c, first, name) == [grant.key]
                    await client.lock_release(name, grant.lease)
                    await client.lease_revoke(grant.lease)
                    return grant

            grant = asyncio.run(main())
        bodies = [json.loads(r.body) for r in proxy.of("POST", f"/v1/locks/{name}")]
    assert [status for status, _ in upstream] == [200, 200]
    assert upstream[0][1] == upstream[1][1]
    assert upstream[0][1]["fencing_token"] == grant.fencing_token
    assert upstream[0][1]["key"] == grant.key == f"/locks/{name}/{grant.lease:x}"
    assert bodies == [{"lease": grant.lease, "wait": 5}] * 2
    assert _contenders(c, first, name) == []
