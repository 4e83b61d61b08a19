"""`senate node --resp`: the active-active store inside real cluster nodes.

Three `senate node` processes serve Raft KV over HTTP and the CRDT store over RESP
on the same peer transport. Clients (redis-py) write on every node at once; one
node is killed with SIGKILL mid-run and restarted. Afterwards every node answers
the same, counters hold every acknowledged increment (nothing acknowledged is
lost), and the Raft side kept working through it all.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import redis
from senate_harness import HOST, Cluster, wait_for

INCRS_PER_CLIENT = 60


def _client(cluster: Cluster, nid: str) -> redis.Redis:
    port = cluster.nodes[nid].resp_port
    return redis.Redis(host=HOST, port=port, socket_timeout=5, protocol=2)


def _writer(cluster: Cluster, nid: str, acked: list[int], stop_on_error: bool) -> None:
    r = _client(cluster, nid)
    for i in range(INCRS_PER_CLIENT):
        try:
            r.incr("hits")
            r.sadd("seen", f"{nid}-{i}")
        except redis.ConnectionError:
            if stop_on_error:
                return
            raise
        acked.append(1)


def test_resp_store_converges_across_kill_and_restart(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, 3, ("--write-timeout", "2"), resp=True)
    try:
        cluster.start()
        cluster.wait_leader()
        _client(cluster, "n1").set("greeting", "hello")

        acked: dict[str, list[int]] = {nid: [] for nid in cluster.nodes}
        threads = [
            threading.Thread(target=_writer, args=(cluster, nid, acked[nid], nid == "n2"))
            for nid in cluster.nodes
        ]
        for t in threads:
            t.start()
        wait_for("n2 to take some writes", lambda: len(acked["n2"]) >= 10, 20)
        cluster.kill("n2", signal.SIGKILL)
        for t in threads:
            t.join(timeout=60)
        cluster.start("n2")
        cluster.wait_leader()

        total = sum(len(a) for a in acked.values())
        members = {f"{nid}-{i}" for nid, a in acked.items() for i in range(len(a))}

        def converged() -> bool:
            answers = []
            for nid in cluster.nodes:
                r = _client(cluster, nid)
                answers.append(
                    (r.get("greeting"), int(r.get("hits") or 0), r.smembers("seen"))
                )
            return all(a == answers[0] for a in answers) and answers[0][1] >= total

        wait_for("every node to answer the same", converged, 10)
        r = _client(cluster, "n3")
        assert r.get("greeting") == b"hello"
        # Every acknowledged INCR counted once; unacknowledged ones (n2's last, in
        # flight at the kill) may or may not have been applied.
        hits = int(r.get("hits") or 0)
        assert total <= hits <= total + 1, (total, hits)
        seen = {m.decode() for m in r.smembers("seen")}
        assert members <= seen, sorted(members - seen)[:5]

        # The Raft side is untouched by all this.
        leader = cluster.wait_leader()
        assert cluster.put(leader, "after", b"ok").status == 200
        assert cluster.get("n2", "after").body == b"ok"
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.close()
