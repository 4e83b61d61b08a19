"""Leases and locks on a real cluster: granted and kept alive through a follower (which
asks the leader's clock over the peer transport), surviving a leader crash, and
expiring once nobody keeps them alive; a lock held across a leader crash stays
held, and passes on with a larger fencing token only once its lease lapsed.

The ttl is a few seconds, not one: the keepalive after the failover must reach the
new leader within one ttl of its election (it restarted every deadline then), and
finding the new leader takes a few HTTP round trips to busy processes.
"""

from __future__ import annotations

import json
import time

from senate_harness import ENGINE_PARAMS, Cluster, wait_for

pytestmark = ENGINE_PARAMS
TTL = 3  # seconds


def test_a_lease_outlives_a_leader_crash_and_then_expires(cluster: Cluster) -> None:
    c = cluster
    leader = c.wait_leader()
    follower = c.followers(leader)[0]
    granted = c.request(follower, "POST", "/v1/leases", json.dumps({"ttl": TTL}).encode())
    assert granted.status == 200, granted.body
    lease_id = granted.json()["id"]
    assert c.put(follower, "leased/key", b"v", f"?lease={lease_id}").status == 200

    def keepalive() -> None:
        resp = c.request(follower, "POST", f"/v1/leases/{lease_id}/keepalive")
        assert resp.status == 200, resp.body

    for _ in range(4):
        time.sleep(0.3)
        keepalive()
    info = c.request(follower, "GET", f"/v1/leases/{lease_id}").json()
    assert info["keys"] == ["leased/key"] and 0 < info["remaining"] <= TTL
    c.kill(leader)
    wait_for("a new leader", lambda: c.leader() is not None, 15)
    # The new leader restarted every deadline at the full ttl: still alive.
    keepalive()
    assert c.get(follower, "leased/key").status == 200
    started = time.monotonic()
    wait_for("the lease to expire", lambda: c.get(follower, "leased/key").status == 404, 15)
    assert time.monotonic() - started >= TTL / 2  # not before (most of) its ttl
    gone = c.request(follower, "POST", f"/v1/leases/{lease_id}/keepalive")
    assert gone.status == 404


def test_a_lock_survives_a_leader_crash_and_passes_on_with_a_larger_token(
    cluster: Cluster,
) -> None:
    c = cluster
    leader = c.wait_leader()
    holder, contender = c.followers(leader)
    held = c.request(holder, "POST", "/v1/locks/job", json.dumps({"ttl": TTL}).encode())
    assert held.status == 200, held.body
    first = held.json()
    c.kill(leader)
    wait_for("a new leader", lambda: c.leader() is not None, 15)
    kept = c.request(holder, "POST", f"/v1/leases/{first['lease']}/keepalive")
    assert kept.status == 200, kept.body  # the new leader restarted its deadline
    refused = c.request(contender, "POST", "/v1/locks/job", json.dumps({"ttl": TTL}).encode())
    assert refused.status == 409, refused.body
    # The holder stops keeping it alive: the contender gets it once the lease lapsed.
    started = time.monotonic()
    body = json.dumps({"ttl": TTL, "wait": 20}).encode()
    got = c.request(contender, "POST", "/v1/locks/job", body, timeout=30)
    assert got.status == 200, got.body
    assert time.monotonic() - started >= TTL / 2
    assert got.json()["fencing_token"] > first["fencing_token"]
    late = c.request(holder, "DELETE", f"/v1/locks/job?lease={first['lease']}")
    assert late.status == 200 and late.json() == {"released": False}, late.body
