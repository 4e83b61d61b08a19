"""Concurrent clients against a real cluster while its leader is killed; the recorded
history (senate.check's format, rules in senate_history.py) must be linearizable.
"""

from __future__ import annotations

import time

from senate_harness import Cluster, wait_for
from senate_history import clients_running, judge, ok_count

from senate.check import Verdict


def test_history_is_linearizable_while_the_leader_is_killed(cluster: Cluster) -> None:
    c = cluster
    with clients_running(c) as rec:
        time.sleep(2.0)
        old = c.wait_leader()
        c.kill(old)
        new = wait_for("a new leader", lambda: c.leader(), 15)
        assert new != old
        ok_before = ok_count(rec)
        time.sleep(2.5)
    assert ok_count(rec) > ok_before + 10, "no progress after the failover"
    result = judge(rec)
    assert result.verdict is Verdict.LINEARIZABLE, result.message
