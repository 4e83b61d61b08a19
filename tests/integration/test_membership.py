"""Membership at runtime on real processes, while clients write (docs/API.md, "Members").

One run: start a fourth node with --join and POST it to the leader (it joins as a
learner, catches up and is promoted without being asked), remove a follower and
stop it, then remove the leader itself (it steps down once the removal commits)
and stop it. Writes keep succeeding throughout; the recorded history must be
linearizable; the new node ends with exactly the leader's state; restarted, it
still knows the configuration from its data dir and log, not from --cluster.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

from senate_harness import ENGINE_PARAMS, HOST, Cluster, NodeProc, free_ports, wait_for
from senate_history import clients_running, judge, ok_count

from senate.check import Verdict

pytestmark = ENGINE_PARAMS


def _start_joiner(c: Cluster, nid: str) -> NodeProc:
    peer, http_port = free_ports(2)
    node = NodeProc(nid, peer, http_port, c.root / nid, c.root / f"{nid}.log")
    c.nodes[nid] = node  # cluster_flag now lists the current members plus the new one
    with open(node.log_path, "ab") as log:
        node.proc = subprocess.Popen(
            [*c.argv(node), "--join"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return node


def _members(c: Cluster, nid: str) -> dict[str, dict[str, Any]]:
    resp = c.request(nid, "GET", "/v1/members", timeout=3.0)
    assert resp.status == 200, resp.body
    return {m["id"]: m for m in resp.json()["members"]}


def _leader_of(c: Cluster, ids: list[str]) -> str:
    leader: str = wait_for(f"a leader agreed by {ids}", lambda: c.leader(iter(ids)), 20)
    return leader


def _progress(rec: Any, what: str) -> None:
    before = ok_count(rec)
    time.sleep(1.2)
    assert ok_count(rec) > before + 10, f"writes stalled {what}"


def test_add_a_fourth_node_and_remove_one_and_the_leader_while_clients_write(
    cluster: Cluster,
) -> None:
    c = cluster
    members = ["n1", "n2", "n3"]
    with clients_running(c) as rec:
        time.sleep(0.8)
        n4 = _start_joiner(c, "n4")
        wait_for("n4 to serve HTTP", lambda: c.status("n4"), 20)
        leader = _leader_of(c, members)
        term = c.status(leader)["term"]  # type: ignore[index]
        time.sleep(1.0)
        # Started with --join, it never campaigns: the leader and its term stand.
        # (Not a voter: Raft and Multi-Paxos call it a follower, ZAB a learner.)
        assert c.status("n4")["role"] in ("follower", "learner")  # type: ignore[index]
        assert c.status(leader)["term"] == term  # type: ignore[index]
        # A follower refuses the change and names the leader's HTTP address.
        follower = next(n for n in members if n != leader)
        body = json.dumps({"id": "n4", "peer": f"{HOST}:{n4.peer_port}", "http": n4.url[7:]})
        refused = c.request(follower, "POST", "/v1/members", body.encode())
        assert refused.status == 503, refused.body
        assert c.nodes[leader].url[7:] in refused.json()["message"]
        for bad in (b"{", b'{"id": "n4"}', b'{"id": "n 4", "peer": "h:1", "http": "h:2"}'):
            assert c.request(leader, "POST", "/v1/members", bad).status == 400, bad
        added = c.request(leader, "POST", "/v1/members", body.encode(), timeout=15)
        assert added.status == 200, added.body
        assert added.json()["added"] == "n4"
        members.append("n4")
        wait_for(
            "n4 promoted to voter",
            lambda: _members(c, leader).get("n4", {}).get("voter") is True,
            20,
        )
        assert _members(c, leader)["n4"]["http"] == n4.url[7:]
        again = c.request(leader, "POST", "/v1/members", body.encode(), timeout=15)
        assert again.status == 200, again.body  # a retried add is harmless
        _progress(rec, "after adding n4")

        victim = next(n for n in members if n not in (leader, "n4"))
        removed = c.request(leader, "DELETE", f"/v1/members/{victim}", timeout=15)
        assert removed.status == 200 and removed.json() == {"removed": victim}, removed.body
        c.kill(victim)
        members.remove(victim)
        assert victim not in _members(c, leader)
        assert c.request(leader, "DELETE", f"/v1/members/{victim}").status == 404
        _progress(rec, f"after removing {victim}")

        old = leader
        removed = c.request(old, "DELETE", f"/v1/members/{old}", timeout=15)
        assert removed.status == 200 and removed.json() == {"removed": old}, removed.body
        members.remove(old)
        leader = _leader_of(c, members)
        assert leader != old
        c.kill(old)
        assert set(_members(c, leader)) == set(members)
        _progress(rec, f"after removing the leader {old}")
    result = judge(rec, min_writes=40)
    assert result.verdict is Verdict.LINEARIZABLE, result.message

    # n4 was a learner first: added, then promoted by the leader unasked.
    logs = "".join(n.log_path.read_text(errors="replace") for n in c.nodes.values())
    assert "learner n4 caught up; promoting it" in logs
    assert logs.index("applied add_learner n4") < logs.index("applied promote n4")

    # The new node holds every acknowledged write: the very state of the leader.
    lead_st = c.status(leader)
    assert lead_st is not None
    wait_for(
        "n4 to apply everything committed",
        lambda: (c.status("n4") or {}).get("applied_index", -1) >= lead_st["commit_index"],
        10,
    )
    query = "/v1/kv?prefix=&consistency=serializable"
    assert c.request("n4", "GET", query).json() == c.request(leader, "GET", query).json()

    # Restarted with --join and a --cluster that no longer fits, n4 takes the
    # membership from its data dir and log: still a voter of the new cluster.
    c.kill("n4")
    with open(n4.log_path, "ab") as log:
        n4.proc = subprocess.Popen(
            [*c.argv(n4), "--join"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    wait_for("n4 back as a voter", lambda: c.leader(iter(members)) is not None, 20)
    assert _members(c, "n4")["n4"]["voter"] is True
    assert set(_members(c, "n4")) == set(members)
    resp = c.put("n4", "after-restart", b"1", timeout=10)
    assert resp.status == 200, resp.body
