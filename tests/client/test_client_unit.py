"""The client against scripted fake servers: retries keep their session, failover,
error mapping, session lanes, watch resume, lock and lease helpers, and the pure
retry bookkeeping. No real cluster: these run in well under a second each."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import urllib.parse
from typing import Any

import pytest
from client_fakes import DROP, Reply, Request, Stream, closed_port_url, serving, status_of

from senate.cli.up_cmd import DEFAULT_BASE_PORT, HOST, HTTP_OFFSET
from senate.client import (
    DEFAULT_ENDPOINTS,
    AsyncClient,
    BadRequest,
    Client,
    Compacted,
    Compare,
    CompareFailed,
    Delete,
    Get,
    LockTimeout,
    NotFound,
    OutcomeUnknown,
    Put,
    RetryPolicy,
    TooLarge,
    Unavailable,
    parse_endpoints,
)
from senate.client.calls import Kind
from senate.client.retry import Endpoints, Outcome, Retrier, Sessions
from senate.errors import SenateError

FAST = RetryPolicy(attempts=6, deadline=5.0, base_delay=0.01, max_delay=0.02)


def _query(req: Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(req.path).query))


def _drop_first_put(revision: int = 7) -> Any:
    puts = 0

    def script(req: Request) -> Any:
        nonlocal puts
        if req.path == "/v1/status":
            return status_of("n1")
        if req.method == "PUT":
            puts += 1
            if puts == 1:
                return DROP
            return Reply(200, {"revision": revision + puts})
        return Reply(404, {"error": "not_found", "message": "no"})

    return script


def test_a_dropped_answer_is_retried_with_the_same_session() -> None:
    with serving(_drop_first_put()) as [srv], Client(srv.url, retry=FAST) as c:
        assert c.put("k", b"v") == 9
        assert c.put("k", b"w") == 10
        puts = srv.of("PUT", "/v1/kv/k")
    assert len(puts) == 3
    (first_id, first_seq), (retry_id, retry_seq), (next_id, next_seq) = (p.seq for p in puts)
    assert first_id == retry_id == next_id == c.client_id
    assert first_seq == retry_seq == "1"
    assert next_seq == "2"


def test_the_async_client_retries_with_the_same_session_too() -> None:
    async def main(url: str) -> tuple[int, int, str]:
        async with AsyncClient(url, retry=FAST) as c:
            return await c.put("k", b"v"), await c.put("k", b"w"), c.client_id

    with serving(_drop_first_put()) as [srv]:
        first, second, client_id = asyncio.run(main(srv.url))
        puts = srv.of("PUT", "/v1/kv/k")
    assert (first, second) == (9, 10)
    assert [p.seq for p in puts] == [(client_id, "1"), (client_id, "1"), (client_id, "2")]


def test_503_fails_over_to_another_endpoint_with_the_same_seq() -> None:
    def refusing(req: Request) -> Any:
        if req.path == "/v1/status":
            return status_of("n1", "follower", leader=None)
        return Reply(503, {"error": "unavailable", "message": "no leader"}, {"Retry-After": "1"})

    def serving_ok(req: Request) -> Any:
        if req.path == "/v1/status":
            return Reply(503, {"error": "unavailable", "message": "starting"})
        return Reply(200, {"revision": 3, "deleted": True})

    with serving(refusing, serving_ok) as [a, b], Client([a.url, b.url], retry=FAST) as c:
        result = c.delete("gone")
        assert (result.revision, result.deleted) == tuple(result) == (3, True)
        tried = a.of("DELETE", "/v1/kv/") + b.of("DELETE", "/v1/kv/")
    assert [r.seq[1] for r in tried] == ["1", "1"]
    assert tried[0].seq == tried[1].seq


def test_the_leader_found_by_status_is_asked_first() -> None:
    def follower(req: Request) -> Any:
        return status_of("n1", "follower", leader="n2")

    def leader(req: Request) -> Any:
        if req.path == "/v1/status":
            return status_of("n2")
        return Reply(200, b"v", {"X-Senate-Revision": "4", "X-Senate-Lease": "0"})

    with serving(follower, leader) as [a, b], Client([a.url, b.url], retry=FAST) as c:
        kv = c.get("k", consistency="serializable")
        assert kv is not None and (kv.key, kv.value, kv.revision, kv.lease) == ("k", b"v", 4, 0)
        assert a.of("GET", "/v1/kv") == []
        assert _query(b.of("GET", "/v1/kv/k")[0]) == {"consistency": "serializable"}


def test_nobody_listening_is_unavailable_and_quickly() -> None:
    with Client([closed_port_url(), closed_port_url()], retry=FAST) as c:
        with pytest.raises(Unavailable, match="no endpoint could serve"):
            c.put("k", b"v")
        with pytest.raises(Unavailable):
            c.get("k")


def test_504_everywhere_is_outcome_unknown_after_the_retries() -> None:
    def timing_out(req: Request) -> Any:
        if req.path == "/v1/status":
            return status_of("n1")
        return Reply(504, {"error": "outcome_unknown", "message": "not seen applied"})

    with serving(timing_out) as [srv], Client(srv.url, retry=FAST) as c:
        with pytest.raises(OutcomeUnknown, match="may or may not"):
            c.put("k", b"v")
        seqs = {p.seq for p in srv.of("PUT", "/v1/kv/k")}
    assert len(srv.of("PUT", "/v1/kv/k")) == FAST.attempts
    assert seqs == {(c.client_id, "1")}  # every retry is the same write


def test_error_answers_map_to_exceptions() -> None:
    answers = {
        "/v1/kv/cas": Reply(409, {"error": "compare_failed", "message": "no", "mod_revision": 5}),
        "/v1/kv/bad": Reply(400, {"error": "bad_request", "message": "bad key"}),
        "/v1/kv/big": Reply(413, {"error": "too_large", "message": "too large"}),
        "/v1/locks/busy": Reply(409, {"error": "timeout", "message": "not acquired"}),
        "/v1/leases": Reply(200, {"id": 5, "ttl": 5}),  # the lock's lease, granted first
        "/v1/leases/9": Reply(404, {"error": "not_found", "message": "no lease 9"}),
    }

    def script(req: Request) -> Any:
        if req.path == "/v1/status":
            return status_of("n1")
        path = urllib.parse.urlsplit(req.path).path
        return answers.get(path, Reply(404, {"error": "not_found", "message": "missing"}))

    with serving(script) as [srv], Client(srv.url, retry=FAST) as c:
        with pytest.raises(CompareFailed) as cas:
            c.put("cas", b"x", prev_revision=4)
        assert cas.value.mod_revision == 5
        assert _query(srv.of("PUT", "/v1/kv/cas")[0]) == {"prev_revision": "4"}
        with pytest.raises(BadRequest, match="bad key"):
            c.put("bad", b"x")
        with pytest.raises(TooLarge):
            c.put("big", b"x", prev_value=b"old")
        with pytest.raises(LockTimeout):
            c.lock_acquire("busy", ttl=5, wait=0.1)
        with pytest.raises(NotFound):
            c.lease_info(9)
        assert c.get("missing") is None
        with pytest.raises(BadRequest):
            c.get("")
    assert issubclass(Unavailable, SenateError)


def test_concurrent_writes_take_separate_session_lanes() -> None:
    both_in = threading.Barrier(2, timeout=5)

    def script(req: Request) -> Any:
        if req.path == "/v1/status":
            return status_of("n1")
        if req.path != "/v1/kv/after":
            both_in.wait()  # each answer waits until both writes are in flight
        return Reply(200, {"revision": 1})

    with serving(script) as [srv], Client(srv.url, retry=FAST) as c:
        threads = [threading.Thread(target=c.put, args=(f"k{i}", b"v")) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        c.put("after", b"v")
        sessions = [p.seq for p in srv.of("PUT", "/v1/kv/")]
    ids = {sid for sid, _ in sessions[:2]}
    assert ids == {c.client_id, f"{c.client_id}.1"}
    assert {seq for _, seq in sessions[:2]} == {"1"}
    assert sessions[2] == (c.client_id, "2")  # a lone write goes back to the client's own id


def test_sessions_reuse_lane_zero_first() -> None:
    s = Sessions("abc")
    with s.write() as first, s.write() as second:
        assert first == ("abc", 1) and second == ("abc.1", 1)
    with s.write() as third:
        assert third == ("abc", 2)


def test_retrier_budget_and_final_errors() -> None:
    now = [0.0]
    rng = random.Random(1)
    policy = RetryPolicy(attempts=10, deadline=3.0, base_delay=0.5, max_delay=1.0)
    r = Retrier(Kind.WRITE, policy, 2, clock=lambda: now[0], rng=rng)
    assert r.failed(Outcome.NOT_SENT, "refused") == 0.0  # the other endpoint first
    delay = r.failed(Outcome.REFUSED, "503", retry_after=5)
    assert delay == 1.0  # Retry-After is honoured up to max_delay
    now[0] = 2.8
    assert r.failed(Outcome.NOT_SENT, "refused") == 0.0
    with pytest.raises(Unavailable):  # the next backoff would pass the deadline
        r.failed(Outcome.NOT_SENT, "refused")  # and nothing was ever maybe-applied
    once = Retrier(Kind.ONCE, policy, 3, clock=lambda: 0.0, rng=rng)
    with pytest.raises(OutcomeUnknown):
        once.failed(Outcome.UNKNOWN, "timeout")
    write = Retrier(Kind.WRITE, RetryPolicy(attempts=2), 3, clock=lambda: 0.0, rng=rng)
    write.failed(Outcome.UNKNOWN, "timeout")
    with pytest.raises(OutcomeUnknown):
        write.failed(Outcome.NOT_SENT, "refused")
    read = Retrier(Kind.READ, RetryPolicy(attempts=2), 3, clock=lambda: 0.0, rng=rng)
    read.failed(Outcome.UNKNOWN, "timeout")
    with pytest.raises(Unavailable):
        read.failed(Outcome.UNKNOWN, "timeout")


def test_endpoints_parse_and_default_to_senate_up(monkeypatch: pytest.MonkeyPatch) -> None:
    up = tuple(f"http://{HOST}:{DEFAULT_BASE_PORT + HTTP_OFFSET + i}" for i in (1, 2, 3))
    assert up == DEFAULT_ENDPOINTS
    monkeypatch.delenv("SENATE_ENDPOINTS", raising=False)
    assert parse_endpoints(None) == DEFAULT_ENDPOINTS
    monkeypatch.setenv("SENATE_ENDPOINTS", "127.0.0.1:1, http://h:2/")
    assert parse_endpoints(None) == ("http://127.0.0.1:1", "http://h:2")
    with pytest.raises(BadRequest):
        parse_endpoints(" , ")
    with pytest.raises(BadRequest):
        parse_endpoints("https://x:1")


def test_txn_document_and_result() -> None:
    seen: list[Any] = []

    def script(req: Request) -> Any:
        if req.path == "/v1/status":
            return status_of("n1")
        seen.append(json.loads(req.body))
        kv = {"key": "b", "value": "AAE=", "revision": 3, "create_revision": 2, "version": 1}
        body = {"succeeded": True, "revision": 9, "results": [{"revision": 9}, {"kv": kv}]}
        return Reply(200, body)

    with serving(script) as [srv], Client(srv.url, retry=FAST) as c:
        result = c.txn(
            [Compare.value("a") == b"x", Compare.version("b") > 0],
            [Put("a", b"y", lease=5), Get("b")],
            [Delete("a")],
        )
    assert seen[0] == {
        "compare": [
            {"key": "a", "target": "value", "op": "==", "value": "eA=="},
            {"key": "b", "target": "version", "op": ">", "value": 0},
        ],
        "success": [
            {"op": "put", "key": "a", "value": "eQ==", "lease": 5},
            {"op": "get", "key": "b"},
        ],
        "failure": [{"op": "delete", "key": "a"}],
        "encoding": "base64",
    }
    assert result.succeeded and result.revision == 9
    assert result.results[0].revision == 9
    kv = result.results[1].kv
    assert kv is not None and (kv.value, kv.create_revision, kv.version) == (b"\x00\x01", 2, 1)
    with pytest.raises(TypeError):
        Compare.revision("a") == b"not an int"  # noqa: B015


def _watch_script(start_of_second: list[str]) -> Any:
    """First watch connection: events 3, 4 (two at 4: one txn), then the stream ends;
    the second must resume at 5 and gets a progress line, then 6."""
    watches = 0

    def script(req: Request) -> Any:
        nonlocal watches
        if req.path == "/v1/status":
            return status_of("n1")
        if req.path.startswith("/v1/kv?"):
            return Reply(200, {"revision": 2, "items": []})
        watches += 1
        query = _query(req)
        if watches == 1:
            assert query == {
                "key": "w",
                "start_revision": "3",
                "encoding": "base64",
                "progress_interval": "5",
            }
            return Stream(
                [
                    {"type": "put", "key": "w", "value": "YQ==", "revision": 3},
                    {"type": "put", "key": "w", "value": "Yg==", "revision": 4},
                    {"type": "delete", "key": "w", "value": "", "revision": 4},
                    {"type": "error", "error": "too_slow", "message": "resume"},
                ]
            )
        start_of_second.append(query["start_revision"])
        return Stream(
            [
                {"type": "put", "key": "w", "value": "eA==", "revision": 4},  # a repeat
                {"type": "progress", "revision": 5},
                {"type": "put", "key": "w", "value": "Yw==", "revision": 6},
            ],
            hold=5,
        )

    return script


def test_a_watch_resumes_after_the_stream_drops_without_gap_or_repeat() -> None:
    starts: list[str] = []
    with serving(_watch_script(starts)) as [srv], Client(srv.url, retry=FAST) as c:
        with c.watch("w") as w:
            events = [next(w) for _ in range(4)]
        assert w.reconnects == 1
    assert [(e.type, e.value, e.revision) for e in events] == [
        ("put", b"a", 3),
        ("put", b"b", 4),
        ("delete", None, 4),
        ("put", b"c", 6),
    ]
    assert starts == ["5"]


def test_the_async_watch_resumes_the_same_way() -> None:
    async def main(url: str) -> list[tuple[str, bytes | None, int]]:
        async with AsyncClient(url, retry=FAST) as c:
            w = c.watch("w")
            got: list[tuple[str, bytes | None, int]] = []
            async for e in w:
                got.append((e.type, e.value, e.revision))
                if len(got) == 4:
                    break
            await w.aclose()
            return got

    starts: list[str] = []
    with serving(_watch_script(starts)) as [srv]:
        got = asyncio.run(main(srv.url))
    assert got == [("put", b"a", 3), ("put", b"b", 4), ("delete", None, 4), ("put", b"c", 6)]
    assert starts == ["5"]


def test_a_compacted_error_line_raises() -> None:
    def script(req: Request) -> Any:
        if req.path == "/v1/status":
            return status_of("n1")
        line = {"type": "error", "error": "compacted", "message": "gone", "oldest_revision": 9}
        return Stream([{"type": "progress", "revision": 3}, line])

    with (
        serving(script) as [srv],
        Client(srv.url, retry=FAST) as c,
        pytest.raises(Compacted) as exc,
    ):
        next(iter(c.watch(prefix="p/", start_revision=2)))
    assert exc.value.oldest_revision == 9


def test_a_compacted_start_revision_raises() -> None:
    def script(req: Request) -> Any:
        if req.path == "/v1/status":
            return status_of("n1")
        return Reply(410, {"error": "compacted", "message": "gone", "oldest_revision": 40})

    with (
        serving(script) as [srv],
        Client(srv.url, retry=FAST) as c,
        pytest.raises(Compacted) as exc,
    ):
        next(iter(c.watch(prefix="p/", start_revision=2)))
    assert exc.value.oldest_revision == 40


def test_lock_keeps_its_lease_alive_and_releases_on_exit() -> None:
    def script(req: Request) -> Any:
        if req.path == "/v1/status":
            return status_of("n1")
        if req.method == "POST" and req.path == "/v1/leases":
            assert json.loads(req.body) == {"ttl": 1}
            return Reply(200, {"id": 77, "ttl": 1})
        if req.method == "POST" and req.path == "/v1/locks/job":
            assert json.loads(req.body) == {"lease": 77, "wait": 2.0}
            return Reply(200, {"name": "job", "lease": 77, "fencing_token": 12, "key": "k"})
        if req.path == "/v1/leases/77/keepalive":
            return Reply(200, {"id": 77, "ttl": 1})
        if req.method == "DELETE" and req.path.startswith("/v1/locks/job"):
            return Reply(200, {"released": True})
        return Reply(404, {"error": "not_found", "message": req.path})

    with serving(script) as [srv], Client(srv.url, retry=FAST) as c:
        with c.lock("job", ttl=1, wait=2.0) as grant:
            assert grant.fencing_token == 12
            threading.Event().wait(0.8)  # > 2 keepalive intervals of ttl/3
        kept = len(srv.of("POST", "/v1/leases/77/keepalive"))
        released = srv.of("DELETE", "/v1/locks/job")
    assert kept >= 2
    assert [_query(r) for r in released] == [{"lease": "77"}]
    assert released[0].seq[0] == c.client_id


def test_a_watch_that_ran_longer_than_the_retry_deadline_still_resumes() -> None:
    """The retry budget starts when a working stream drops, not when it opened."""
    opened = 0

    def script(req: Request) -> Any:
        nonlocal opened
        if req.path == "/v1/status":
            return status_of("n1")
        opened += 1
        if opened == 1:  # runs for ~0.6 s, longer than the whole retry deadline
            lines = [{"type": "progress", "revision": r} for r in range(1, 4)]
            return Stream(
                [*lines, {"type": "put", "key": "k", "value": "YQ==", "revision": 4}], 0.2
            )
        if opened == 2:
            return Reply(503, {"error": "unavailable", "message": "electing"})
        return Stream([{"type": "put", "key": "k", "value": "Yg==", "revision": 5}], hold=5)

    short = RetryPolicy(attempts=3, deadline=0.3, base_delay=0.01, max_delay=0.02)
    with serving(script) as [srv], Client(srv.url, retry=short) as c:
        with c.watch("k", start_revision=1) as w:
            assert [e.revision for e in (next(w), next(w))] == [4, 5]
        assert w.reconnects == 1


def test_endpoints_prefer_the_leader_or_the_one_peers_name() -> None:
    e = Endpoints(["a", "b", "c"])
    assert e.stale and e.current == "a"
    e.choose_leader([("a", None), ("b", {"id": "n2", "role": "follower", "leader": "n9"})])
    assert (e.current, e.stale) == ("a", False)  # no leader in sight: keep, ask later
    e.failed("a")
    assert (e.current, e.stale) == ("b", True)
    follower = {"id": "n1", "role": "follower", "leader": "n3"}
    e.choose_leader([("a", follower), ("b", None), ("c", {"id": "n3", "role": "candidate"})])
    assert (e.current, e.stale) == ("c", False)  # named by a peer
    e.choose_leader([("a", None), ("b", {"id": "n2", "role": "leader", "leader": "n2"})])
    assert e.current == "b"
    e.choose_leader([("a", None), ("b", None), ("c", None)])
    assert e.current == "b"
    e = Endpoints(["http://h:1", "http://h:2"])
    e.choose_leader([("http://h:1", {"id": "n1", "role": "follower", "leader_http": "h:2"})])
    assert e.current == "http://h:2"  # named by its address
