"""EXPIRE's NX | XX | GT | LT, EXPIREAT/PEXPIREAT/EXPIRETIME, and ZRANGE with BYSCORE,
BYLEX, REV, LIMIT (and ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX,
ZREVRANGEBYLEX): one script of commands runs, through redis-py, against a real Senate
replica process and a real redis-server (7.x, Debian's), and every answer must match,
error texts included. Needs redis-server (scripts/setup.sh installs it)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from tests.activeactive.harness import Replica, free_port, running

FAR = 4_000_000_000  # an absolute unix time (s) far in the future: EXPIRETIME compares exactly


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Replica, int]]:
    assert shutil.which("redis-server"), "redis-server is missing: run ./scripts/setup.sh"
    root = tmp_path_factory.mktemp("aa-parity")
    port = free_port()
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root)]
    proc = subprocess.Popen(
        [*cmd, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                redis.Redis(port=port, socket_timeout=2).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        with running(root, 1) as replicas:
            yield replicas[0], port
    finally:
        proc.terminate()
        proc.wait(10)


def answer(c: redis.Redis, cmd: tuple[object, ...]) -> object:
    try:
        result = c.execute_command(*cmd)
    except redis.ResponseError as exc:
        return ("error", str(exc))
    return result


def close_enough(cmd: tuple[object, ...], want: object, got: object) -> bool:
    """Equal; for a positive TTL/PTTL, equal give or take the time between the two
    servers' answers (the replica answers a write only after its fsync)."""
    if cmd[0] in ("TTL", "PTTL") and isinstance(want, int) and isinstance(got, int):
        slack = 2 if cmd[0] == "TTL" else 2000
        return want == got or (want > 0 and got > 0 and abs(want - got) <= slack)
    return want == got


def compare(servers: tuple[Replica, int], protocol: int, script: list[tuple[object, ...]]) -> None:
    replica, port = servers
    ours = replica.client(protocol=protocol)
    real = redis.Redis(port=port, socket_timeout=5, protocol=protocol)
    try:
        ours.flushall()
        real.flushall()
        for cmd in script:
            want, got = answer(real, cmd), answer(ours, cmd)
            assert close_enough(cmd, want, got), f"{cmd}: redis-server {want!r}, Senate {got!r}"
    finally:
        ours.close()
        real.close()


EXPIRE_SCRIPT: list[tuple[object, ...]] = [
    # option errors come before the time, the time before the key
    ("EXPIRE", "nokey", "10", "NX", "XX"),
    ("EXPIRE", "nokey", "10", "GT", "LT"),
    ("EXPIRE", "nokey", "10", "NX", "GT"),
    ("EXPIRE", "nokey", "10", "FOO"),
    ("EXPIRE", "nokey", "x", "FOO"),
    ("EXPIRE", "nokey", "x", "NX"),
    ("EXPIRE", "nokey", "9223372036854775807"),
    ("PEXPIRE", "nokey", "9223372036854775807"),
    ("EXPIRE", "nokey", "-9223372036854775"),
    ("EXPIRE", "nokey", "10", "nx"),
    ("SET", "k", "v"),
    # no expiry yet: XX and GT refuse (GT: no expiry is an infinite TTL), NX and LT set
    ("EXPIRE", "k", "100", "XX"),
    ("EXPIRE", "k", "100", "GT"),
    ("TTL", "k"),
    ("EXPIRE", "k", "100", "NX"),
    ("TTL", "k"),
    ("EXPIRE", "k", "200", "NX"),
    ("EXPIRE", "k", "50", "GT"),
    ("EXPIRE", "k", "99", "GT"),  # (100 again could land in the same ms: equal, so 0)
    ("EXPIRE", "k", "300", "GT"),
    ("TTL", "k"),
    ("EXPIRE", "k", "400", "LT"),
    ("EXPIRE", "k", "100", "LT"),
    ("TTL", "k"),
    ("EXPIRE", "k", "500", "XX", "GT"),
    ("EXPIRE", "k", "499", "GT", "GT"),
    ("TTL", "k"),
    ("PEXPIRE", "k", "400000", "LT", "XX"),
    ("PTTL", "k"),
    ("PERSIST", "k"),
    ("EXPIRE", "k", "100", "LT"),
    ("TTL", "k"),
    # absolute times, and EXPIRETIME
    ("EXPIREAT", "k", str(FAR)),
    ("EXPIRETIME", "k"),
    ("PEXPIRETIME", "k"),
    ("EXPIREAT", "k", str(FAR + 10), "LT"),
    ("PEXPIREAT", "k", str(FAR * 1000 + 10), "GT"),
    ("PEXPIRETIME", "k"),
    ("EXPIRETIME", "nokey"),
    ("SET", "p", "v"),
    ("EXPIRETIME", "p"),
    # a time already past deletes the key, options still apply first
    ("EXPIRE", "p", "-1", "GT"),
    ("EXISTS", "p"),
    ("EXPIRE", "p", "-1", "LT"),
    ("EXISTS", "p"),
    ("SET", "p", "v"),
    ("EXPIREAT", "p", "1"),
    ("EXISTS", "p"),
    ("SADD", "s", "a"),
    ("PEXPIRE", "s", "0", "NX"),
    ("EXISTS", "s"),
]


def test_expire_options_answer_as_redis(servers: tuple[Replica, int]) -> None:
    compare(servers, 2, EXPIRE_SCRIPT)


def zrange_script() -> list[tuple[object, ...]]:
    script: list[tuple[object, ...]] = [
        ("ZADD", "z", "1", "a", "2", "b", "2", "c", "3", "d", "-1.5", "e", "10", "f"),
        ("ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "dd", "0", "e"),
    ]
    reads = [
        ("ZRANGE", "z", "0", "-1"),
        ("ZRANGE", "z", "0", "-1", "REV"),
        ("ZRANGE", "z", "1", "3", "REV", "WITHSCORES"),
        ("ZRANGE", "z", "-2", "100"),
        ("ZRANGE", "z", "5", "2"),
        ("ZRANGE", "z", "(1", "3", "BYSCORE"),
        ("ZRANGE", "z", "1", "(3", "BYSCORE", "WITHSCORES"),
        ("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "3"),
        ("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "2", "-1"),
        ("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"),
        ("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "0", "0"),
        ("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "9", "2"),
        ("ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2", "WITHSCORES"),
        ("ZRANGE", "z", "3", "1", "REV", "BYSCORE"),
        ("ZRANGE", "z", "1", "3", "REV", "BYSCORE"),
        ("ZRANGE", "z", "5", "1", "BYSCORE"),
        ("ZRANGE", "z", "(2", "(2", "BYSCORE"),
        ("ZRANGE", "z", "inf", "inf", "BYSCORE"),
        ("ZRANGE", "lex", "-", "+", "BYLEX"),
        ("ZRANGE", "lex", "[b", "(dd", "BYLEX"),
        ("ZRANGE", "lex", "(b", "[dd", "BYLEX", "LIMIT", "1", "5"),
        ("ZRANGE", "lex", "+", "[c", "BYLEX", "REV"),
        ("ZRANGE", "lex", "+", "-", "BYLEX"),
        ("ZRANGE", "lex", "[c", "[b", "BYLEX"),
        ("ZRANGE", "nokey", "0", "-1", "BYSCORE"),
        ("ZREVRANGE", "z", "0", "2"),
        ("ZREVRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZRANGEBYSCORE", "z", "2", "10"),
        ("ZRANGEBYSCORE", "z", "-inf", "2", "WITHSCORES", "LIMIT", "1", "10"),
        ("ZREVRANGEBYSCORE", "z", "10", "(2"),
        ("ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "0", "2", "WITHSCORES"),
        ("ZRANGEBYLEX", "lex", "[b", "+", "LIMIT", "1", "2"),
        ("ZREVRANGEBYLEX", "lex", "+", "(b"),
        # errors, in Redis's order and words
        ("ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"),
        ("ZRANGE", "z", "0", "-1", "LIMIT", "0", "-1"),
        ("ZRANGE", "z", "0", "-1", "LIMIT", "0"),
        ("ZRANGE", "z", "0", "-1", "LIMIT", "x", "1", "BYSCORE"),
        ("ZRANGE", "lex", "-", "+", "BYLEX", "WITHSCORES"),
        ("ZRANGE", "z", "0", "1", "BYSCORE", "BYSCORE"),
        ("ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"),
        ("ZRANGE", "z", "0", "1", "REV", "REV"),
        ("ZRANGE", "z", "0", "1", "FOO"),
        ("ZRANGE", "z", "a", "1", "BYSCORE"),
        ("ZRANGE", "z", "(", "1", "BYSCORE"),
        ("ZRANGE", "z", "nan", "1", "BYSCORE"),
        ("ZRANGE", "z", "", "( 2", "BYSCORE"),  # strtod: "" is 0, leading space is fine
        ("ZRANGE", "z", "  ", "2", "BYSCORE"),
        ("ZRANGE", "z", "-0x1.8p0", "0x2", "BYSCORE", "WITHSCORES"),
        ("ZRANGE", "z", "-1e400", "(1e400", "BYSCORE"),
        ("ZRANGE", "z", "1e", "2", "BYSCORE"),
        ("ZRANGE", "z", "1_0", "2", "BYSCORE"),
        ("ZRANGE", "z", "a", "+", "BYLEX"),
        ("ZRANGE", "z", "-x", "+", "BYLEX"),
        ("ZRANGE", "z", "x", "1"),
        ("ZREVRANGE", "z", "0", "1", "REV"),
        ("ZREVRANGE", "z", "0", "1", "LIMIT", "0", "1"),
        ("ZRANGEBYSCORE", "z", "0", "1", "BYSCORE"),
        ("ZRANGEBYSCORE", "z", "0", "1", "REV"),
        ("ZRANGEBYLEX", "lex", "-", "+", "WITHSCORES"),
        ("SET", "str", "v"),
        ("ZRANGE", "str", "0", "1", "BYSCORE"),
        ("ZRANGE", "str", "x", "1", "BYSCORE"),
        ("ZREVRANGEBYSCORE", "str", "1", "0"),
    ]
    return script + reads


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_zrange_forms_answer_as_redis(servers: tuple[Replica, int], protocol: int) -> None:
    compare(servers, protocol, zrange_script())
