"""EXPIRE's NX | XX | GT | LT across replicas (in process): each replica judges the
option on its own view; what it writes then merges by the expiry rules (of concurrent
expiries the longest wins, a later one replaces what it observed)."""

from __future__ import annotations

from tests.activeactive.sim import Clock, cluster, sync_all


def same(replicas: list, *args: str) -> bytes:  # type: ignore[type-arg]
    answers = {r(*args) for r in replicas}
    assert len(answers) == 1, (args, answers)
    return answers.pop()


def test_lt_shortens_everywhere_and_concurrent_gt_keeps_the_longest() -> None:
    a, b, c = rs = cluster()
    a("SET", "k", "v", "EX", "100")
    sync_all(rs)
    assert a("EXPIRE", "k", "10", "LT") == b":1\r\n"  # observed the 100 s expiry: replaces it
    sync_all(rs)
    assert same(rs, "TTL", "k") == b":10\r\n"
    assert b("EXPIRE", "k", "50", "GT") == b":1\r\n"
    assert c("EXPIRE", "k", "30", "GT") == b":1\r\n"  # concurrent: each judged locally
    sync_all(rs)
    assert same(rs, "TTL", "k") == b":50\r\n"
    assert same(rs, "EXPIRE", "k", "20", "GT") == b":0\r\n"
    assert same(rs, "EXPIRE", "k", "20", "NX") == b":0\r\n"
    assert same(rs, "TTL", "k") == b":50\r\n"  # refused options wrote nothing


def test_nx_on_replicas_that_have_not_seen_the_expiry_yet() -> None:
    clock = Clock()
    a, b, _c = rs = cluster(clock=clock)
    a("SET", "k", "v")
    sync_all(rs)
    assert a("EXPIRE", "k", "100") == b":1\r\n"
    assert b("EXPIRE", "k", "300", "NX") == b":1\r\n"  # b has not seen a's expiry
    assert b("EXPIRE", "k", "400", "NX") == b":0\r\n"
    sync_all(rs)
    assert same(rs, "TTL", "k") == b":300\r\n"  # the longest of the concurrent two
    assert same(rs, "PERSIST", "k") == b":1\r\n"
    sync_all(rs)
    assert same(rs, "EXPIRE", "k", "5", "XX") == b":0\r\n"
    assert same(rs, "EXPIRE", "k", "5", "LT") == b":1\r\n"  # no expiry: infinite TTL
    sync_all(rs)
    clock.ms += 5001
    assert same(rs, "EXISTS", "k") == b":0\r\n"
