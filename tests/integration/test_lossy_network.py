"""A lossy, slow network on real processes: every link drops 10% of messages and
delays the rest by 5-25 ms (the transport's fault layer, set through the admin
endpoint), and midway the leader is killed. Concurrent clients (reads, writes,
cas, deletes) must see a linearizable history, and after the network heals every
node holds the same data.
"""

from __future__ import annotations

import json
import time

import pytest
from senate_harness import ENGINES, Cluster, wait_for
from senate_history import KEYS, clients_running, judge, ok_count

from senate.check import Verdict

pytestmark = pytest.mark.parametrize("protocol", ENGINES)

LOSSY = {"default": {"drop": 0.1, "delay_ms": 5, "jitter_ms": 20}}


def _set_faults(c: Cluster, spec: dict[str, object]) -> None:
    for nid, node in c.nodes.items():
        if node.alive():
            resp = c.request(nid, "PUT", "/v1/admin/faults", json.dumps(spec).encode())
            assert resp.status == 200, resp.body


def test_history_stays_linearizable_over_a_lossy_network_and_a_leader_kill(
    cluster: Cluster,
) -> None:
    c = cluster
    _set_faults(c, LOSSY)
    with clients_running(c) as rec:
        time.sleep(2.0)
        before = ok_count(rec)
        assert before > 10, f"only {before} operations completed over the lossy network"
        old = c.wait_leader()
        c.kill(old)
        wait_for("a new leader over the lossy network", lambda: c.leader(), 20)
        time.sleep(2.0)
        c.start(old)
        wait_for(f"{old} to serve HTTP again", lambda: c.status(old), 20)
        _set_faults(c, LOSSY)  # the restarted node starts with a clean network
        time.sleep(1.5)
    assert ok_count(rec) > before, "no operation completed after the leader was killed"
    result = judge(rec)
    assert result.verdict is Verdict.LINEARIZABLE, result.message
    _set_faults(c, {})
    leader = c.wait_leader()
    for key in KEYS:
        want = c.get(leader, key).body
        for nid in c.nodes:
            wait_for(
                f"{nid} to agree on {key}",
                lambda nid=nid, key=key, want=want: (
                    c.get(nid, key, "?consistency=serializable").body == want
                ),
                15,
            )
