"""Partition the leader away on real processes (the fault admin endpoint, no root).

While cut off, the old leader must not serve linearizable reads or acknowledge
writes; the majority elects a new leader and goes on; after healing, the old
leader catches up. Concurrent clients' history must stay linearizable throughout.
"""

from __future__ import annotations

import json
import time

from senate_harness import ENGINE_PARAMS, Cluster, wait_for
from senate_history import KEYS, clients_running, judge

from senate.check import Verdict

pytestmark = ENGINE_PARAMS


def _faults(c: Cluster, nid: str, spec: dict[str, object]) -> dict[str, object]:
    resp = c.request(nid, "PUT", "/v1/admin/faults", json.dumps(spec).encode())
    assert resp.status == 200, resp.body
    body: dict[str, object] = resp.json()
    return body


def test_partitioned_leader_is_replaced_and_history_stays_linearizable(
    cluster: Cluster,
) -> None:
    c = cluster
    with clients_running(c) as rec:
        time.sleep(1.0)
        old = c.wait_leader()
        others = c.followers(old)
        block = [[old, o] for o in others] + [[o, old] for o in others]
        _faults(c, old, {"block": block})
        new = wait_for("a leader on the majority side", lambda: c.leader(iter(others)), 15)
        assert new != old
        # The cut-off node still answers from its own state, but will not vouch for it.
        assert c.get(old, KEYS[0], "?consistency=serializable").status in (200, 404)
        refused = c.get(old, KEYS[0])
        assert refused.status == 503, refused.body
        assert c.put(old, "cut/off", b"x").status in (503, 504)
        assert c.put(new, "majority/side", b"y").status == 200
        time.sleep(0.5)
        healed = _faults(c, old, {})
        assert healed["rules"]["block"] == []  # type: ignore[index]
        counters = healed["counters"]
        assert counters["blocked_send"] > 0 and counters["blocked_receive"] > 0  # type: ignore[index]
        wait_for("the cluster to agree on a leader again", lambda: c.leader(), 15)
        time.sleep(1.0)
    result = judge(rec)
    assert result.verdict is Verdict.LINEARIZABLE, result.message
    # The old leader caught up: it holds the majority's write and no trace of its own.
    assert c.get(old, "majority/side").body == b"y"
    for key in KEYS:
        assert c.get(old, key).body == c.get(c.wait_leader(), key).body
