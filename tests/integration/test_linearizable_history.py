"""Concurrent clients against a real cluster while nodes crash; the recorded history
(senate.check's format, rules in senate_history.py) must be linearizable.

One run, two crashes: kill -9 the leader (a new one takes over, the old one comes
back as a follower), then kill -9 every node at once and restart them all. Every
write acknowledged before either crash must still be there for reads after it.
"""

from __future__ import annotations

import time

from senate_harness import ENGINE_PARAMS, Cluster, wait_for
from senate_history import clients_running, judge, ok_count

from senate.check import Verdict

pytestmark = ENGINE_PARAMS


def test_history_is_linearizable_across_leader_and_total_crashes(cluster: Cluster) -> None:
    c = cluster
    with clients_running(c) as rec:
        time.sleep(1.0)
        old = c.wait_leader()
        c.kill(old)
        new = wait_for("a new leader", lambda: c.leader(), 15)
        assert new != old
        ok_before = ok_count(rec)
        time.sleep(1.0)
        assert ok_count(rec) > ok_before + 10, "no progress after the failover"
        c.start(old)
        time.sleep(0.5)
        c.kill_all()  # as in a power cut
        c.start()
        c.wait_leader(timeout=20)
        ok_before = ok_count(rec)
        time.sleep(1.5)
        assert ok_count(rec) > ok_before + 10, "no progress after the restart"
    result = judge(rec, min_writes=40)
    assert result.verdict is Verdict.LINEARIZABLE, result.message
