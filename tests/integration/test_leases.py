"""Leases on a real cluster: granted and kept alive through a follower (which asks the
leader's clock over the peer transport), surviving a leader crash, and expiring
once nobody keeps them alive.

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
