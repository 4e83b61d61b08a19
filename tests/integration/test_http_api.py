"""The HTTP/JSON API of CONTRACT.md against a real 3-node cluster (one per module)."""

from __future__ import annotations

import base64
import json
import signal
import urllib.parse
import urllib.request

from senate_harness import Cluster, key_path, wait_for


def _leader_and_follower(c: Cluster) -> tuple[str, str]:
    leader = c.wait_leader()
    return leader, c.followers(leader)[0]


def test_status_has_the_contract_fields(shared_cluster: Cluster) -> None:
    leader = shared_cluster.wait_leader()
    for nid in shared_cluster.nodes:
        st = shared_cluster.status(nid)
        assert st is not None
        for name in ("id", "role", "term", "leader", "commit_index", "applied_index"):
            assert name in st
        assert st["id"] == nid
        assert st["protocol"] == "raft"
        assert st["leader"] == leader
        assert st["role"] == ("leader" if nid == leader else "follower")
        assert st["term"] >= 1
        members = {m["id"]: m for m in st["members"]}
        assert set(members) == {"n1", "n2", "n3"}
        assert all(m["voter"] for m in members.values())
        assert members["n1"]["peer"] == f"127.0.0.1:{shared_cluster.nodes['n1'].peer_port}"


def test_members_know_each_others_http_address(shared_cluster: Cluster) -> None:
    c = shared_cluster
    expected = {nid: f"127.0.0.1:{n.http_port}" for nid, n in c.nodes.items()}

    def learned() -> bool:
        for nid in c.nodes:
            listed = c.request(nid, "GET", "/v1/members").json()["members"]
            if {m["id"]: m["http"] for m in listed} != expected:
                return False
        return True

    wait_for("every node to learn every HTTP address", learned, 10)
    leader = c.wait_leader()
    st = c.status("n3")
    assert st is not None and st["leader_http"] == expected[leader]


def test_put_get_delete_on_every_node(shared_cluster: Cluster) -> None:
    c = shared_cluster
    revisions = []
    for nid in c.nodes:
        resp = c.put(nid, f"every/{nid}", f"value of {nid}".encode())
        assert resp.status == 200, resp.body
        revisions.append(resp.json()["revision"])
    assert revisions == sorted(revisions) and len(set(revisions)) == 3
    for reader in c.nodes:
        for nid in c.nodes:
            resp = c.get(reader, f"every/{nid}")
            assert resp.status == 200
            assert resp.body == f"value of {nid}".encode()
            assert int(resp.headers["X-Senate-Revision"]) == revisions[list(c.nodes).index(nid)]
    resp = c.request("n2", "DELETE", key_path("every/n1"))
    assert resp.status == 200
    body = resp.json()
    assert body["deleted"] is True and body["revision"] > revisions[-1]
    assert c.get("n3", "every/n1").status == 404
    again = c.request("n1", "DELETE", key_path("every/n1")).json()
    assert again == {"revision": body["revision"], "deleted": False}


def test_follower_forwards_writes_and_reads_are_linearizable(shared_cluster: Cluster) -> None:
    c = shared_cluster
    leader, follower = _leader_and_follower(c)
    for i in range(10):
        value = f"v{i}".encode()
        assert c.put(follower, "fwd/key", value).status == 200
        # Right after the acknowledgement, a linearizable read anywhere sees it.
        for nid in c.nodes:
            assert c.get(nid, "fwd/key").body == value
    assert c.get(leader, "fwd/key", "?consistency=linearizable").body == b"v9"


def test_serializable_read_is_local(shared_cluster: Cluster) -> None:
    c = shared_cluster
    leader, follower = _leader_and_follower(c)
    assert c.put(leader, "ser/key", b"x").status == 200
    # A serializable read is served from the follower's own state; it has the
    # value once the follower applied it (a linearizable read there guarantees it).
    assert c.get(follower, "ser/key").body == b"x"
    resp = c.get(follower, "ser/key", "?consistency=serializable")
    assert resp.status == 200 and resp.body == b"x"
    assert c.get(follower, "ser/key", "?consistency=sometimes").status == 400


def test_prefix_list_text_and_base64(shared_cluster: Cluster) -> None:
    c = shared_cluster
    for key, value in (("list/a", b"1"), ("list/b", b"2"), ("list/c/d", b"3"), ("lisz", b"4")):
        assert c.put("n1", key, value).status == 200
    resp = c.request("n2", "GET", "/v1/kv?prefix=" + urllib.parse.quote("list/"))
    assert resp.status == 200
    body = resp.json()
    assert [i["key"] for i in body["items"]] == ["list/a", "list/b", "list/c/d"]
    assert [i["value"] for i in body["items"]] == ["1", "2", "3"]
    assert body["revision"] >= max(i["revision"] for i in body["items"])
    assert c.put("n3", "list/bin", b"\xff\x00\xfe").status == 200
    assert c.request("n3", "GET", "/v1/kv?prefix=list/").status == 400  # not UTF-8 text
    resp = c.request("n3", "GET", "/v1/kv?prefix=list/&encoding=base64&consistency=serializable")
    items = {i["key"]: base64.b64decode(i["value"]) for i in resp.json()["items"]}
    assert items["list/bin"] == b"\xff\x00\xfe" and items["list/a"] == b"1"


def test_compare_and_set(shared_cluster: Cluster) -> None:
    c = shared_cluster
    created = c.put("n2", "cas/k", b"one", "?prev_revision=0")
    assert created.status == 200
    rev = created.json()["revision"]
    conflict = c.put("n3", "cas/k", b"two", "?prev_revision=0")
    assert conflict.status == 409
    assert conflict.json()["error"] == "compare_failed"
    assert c.put("n1", "cas/k", b"two", f"?prev_revision={rev + 1000}").status == 409
    assert c.put("n1", "cas/k", b"two", "?prev_value=nope").status == 409
    assert c.get("n1", "cas/k").body == b"one"
    ok = c.put("n3", "cas/k", b"two", f"?prev_revision={rev}")
    assert ok.status == 200
    assert c.put("n2", "cas/k", b"three", "?prev_value=two").status == 200
    assert c.get("n3", "cas/k").body == b"three"
    assert c.request("n1", "DELETE", key_path("cas/k") + "?prev_value=two").status == 409
    assert c.put("n1", "cas/k", b"x", "?prev_revision=-1").status == 400


def test_bad_keys_are_400(shared_cluster: Cluster) -> None:
    c = shared_cluster
    for path in ("/v1/kv/", "/v1/kv/a%00b", "/v1/kv/" + "k" * 1025):
        resp = c.request("n1", "PUT", path, b"v")
        assert resp.status == 400, (path[:20], resp.body)
        body = resp.json()
        assert body["error"] == "bad_request" and body["message"]
    assert c.put("n1", "k" * 1024, b"v").status == 200
    assert c.put("n1", "ключ/✓", b"v").status == 200
    assert c.get("n2", "ключ/✓").body == b"v"


def test_value_size_limit_is_413(shared_cluster: Cluster) -> None:
    c = shared_cluster
    big = c.put("n2", "big", b"x" * (1 << 20 | 1))
    assert big.status == 413
    assert big.json()["error"] == "too_large"
    assert c.put("n2", "big", b"x" * (1 << 20)).status == 200
    assert len(c.get("n3", "big").body) == 1 << 20


def test_errors_are_json(shared_cluster: Cluster) -> None:
    c = shared_cluster
    missing = c.get("n1", "no/such/key")
    assert missing.status == 404 and missing.json()["error"] == "not_found"
    route = c.request("n1", "GET", "/v2/nothing")
    assert route.status == 404 and route.json()["error"] == "not_found"
    method = c.request("n1", "POST", "/v1/status", b"")
    assert method.status == 405 and method.json()["error"] == "method_not_allowed"


def test_client_session_applies_a_retried_write_once(shared_cluster: Cluster) -> None:
    c = shared_cluster
    headers = {"X-Senate-Client": "test-client-1", "X-Senate-Seq": "7"}
    first = c.put("n1", "session/k", b"a", headers=headers)
    assert first.status == 200
    # The same (client, seq) through another node: answered from the session, not applied.
    retry = c.put("n3", "session/k", b"a", headers=headers)
    assert retry.status == 200 and retry.json() == first.json()
    assert c.get("n2", "session/k").headers["X-Senate-Revision"] == str(first.json()["revision"])
    stale = c.put("n2", "session/k", b"b", headers={**headers, "X-Senate-Seq": "6"})
    assert stale.status == 409 and stale.json()["error"] == "stale_request"
    assert c.get("n2", "session/k").body == b"a"
    assert c.put("n2", "session/k", b"c", headers={"X-Senate-Seq": "8"}).status == 400


def test_txn_through_a_follower(shared_cluster: Cluster) -> None:
    c = shared_cluster
    _, follower = _leader_and_follower(c)
    doc = {
        "compare": [{"key": "txn/lock", "target": "version", "op": "==", "value": 0}],
        "success": [{"op": "put", "key": "txn/lock", "value": "mine"}],
        "failure": [{"op": "get", "key": "txn/lock"}],
    }
    first = c.request(follower, "POST", "/v1/txn", json.dumps(doc).encode())
    assert first.status == 200 and first.json()["succeeded"] is True
    second = c.request("n1", "POST", "/v1/txn", json.dumps(doc).encode()).json()
    assert second["succeeded"] is False and second["results"][0]["kv"]["value"] == "mine"
    assert c.get(follower, "txn/lock").body == b"mine"


def test_watch_on_a_follower_sees_writes_made_through_the_leader(shared_cluster: Cluster) -> None:
    c = shared_cluster
    leader, follower = _leader_and_follower(c)
    url = c.nodes[follower].url + "/v1/watch?prefix=" + urllib.parse.quote("watched/")
    with urllib.request.urlopen(url, timeout=10) as stream:
        for i in range(3):
            assert c.put(leader, f"watched/{i}", b"%d" % i).status == 200
        events = [json.loads(stream.readline()) for _ in range(3)]
    assert [(e["type"], e["key"], e["value"]) for e in events] == [
        ("put", f"watched/{i}", str(i)) for i in range(3)
    ]
    assert [e["revision"] for e in events] == sorted(e["revision"] for e in events)


def test_a_node_without_quorum_refuses_linearizable_reads_and_writes(
    shared_cluster: Cluster,
) -> None:
    # Last in this module: it pauses two nodes of the shared cluster (and resumes them).
    c = shared_cluster
    leader = c.wait_leader()
    lonely = c.followers(leader)[0]
    assert c.put(leader, "q/key", b"old").status == 200
    assert c.get(lonely, "q/key").body == b"old"  # applied on the lonely node too
    others = [nid for nid in c.nodes if nid != lonely]
    for nid in others:
        c.kill(nid, signal.SIGSTOP)
    try:
        stale = c.get(lonely, "q/key", "?consistency=serializable")
        assert stale.status == 200 and stale.body == b"old"
        read = c.get(lonely, "q/key")
        assert read.status == 503, read.body
        assert read.json()["error"] == "unavailable" and "Retry-After" in read.headers
        write = c.put(lonely, "q/key", b"new")
        # Either it never found a leader (503: not applied) or it handed the write
        # to the paused leader (504: unknown) — never a success.
        assert write.status in (503, 504), write.body
    finally:
        for nid in others:
            c.kill(nid, signal.SIGCONT)
    c.wait_leader(timeout=15)
    value = c.get(lonely, "q/key").body
    assert value in (b"old", b"new")
