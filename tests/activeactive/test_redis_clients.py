"""Real Redis clients (redis-py, redis-cli) against one real replica process: command
semantics and error texts as Redis has them, protocol errors, pipelining."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from tests.activeactive.harness import Replica, running


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    with running(tmp_path_factory.mktemp("aa-single"), 1) as replicas:
        yield replicas[0]


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(node: Replica, request: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    client = node.client(protocol=request.param)
    client.flushall()
    yield client
    client.close()


def test_strings_and_counters(r: redis.Redis) -> None:
    assert r.set("k", "10") is True
    assert r.incr("k") == 11
    assert r.incrby("k", 5) == 16
    assert r.decrby("k", 20) == -4
    assert r.get("k") == b"-4"
    assert r.incrbyfloat("k", 1.5) == pytest.approx(-2.5)
    assert r.get("k") == b"-2.5"
    r.set("s", "abc")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.incr("s")
    r.set("big", str(2**63 - 1))
    with pytest.raises(redis.ResponseError, match="increment or decrement would overflow"):
        r.incr("big")
    assert r.set("k", "x", nx=True) is None
    assert r.set("absent", "x", xx=True) is None
    assert r.set("k", "new", get=True) == b"-2.5"
    assert r.exists("k", "k", "nope") == 2
    assert r.delete("k", "nope") == 1
    assert r.get("k") is None


def test_collections(r: redis.Redis) -> None:
    assert r.sadd("s", "a", "b", "a") == 2
    assert r.smembers("s") == {b"a", b"b"}
    assert r.sismember("s", "a") and not r.sismember("s", "z")
    assert r.srem("s", "a", "z") == 1
    assert r.scard("s") == 1
    assert r.hset("h", mapping={"f": "1", "g": "x"}) == 2
    assert r.hincrby("h", "f", 41) == 42
    assert r.hgetall("h") == {b"f": b"42", b"g": b"x"}
    with pytest.raises(redis.ResponseError, match="hash value is not an integer"):
        r.hincrby("h", "g", 1)
    assert r.hdel("h", "g", "nope") == 1
    assert r.hget("h", "g") is None
    assert r.zadd("z", {"a": 1, "b": 2.5}) == 2
    assert r.zincrby("z", 2, "a") == 3.0
    pairs = r.zrange("z", 0, -1, withscores=True)
    assert [tuple(p) for p in pairs] == [(b"b", 2.5), (b"a", 3.0)]
    assert r.zscore("z", "b") == 2.5
    assert r.zrem("z", "b") == 1
    assert r.type("z") == b"zset" and r.type("s") == b"set" and r.type("nope") == b"none"
    with pytest.raises(
        redis.ResponseError, match=r"^WRONGTYPE Operation against a key holding the wrong"
    ):
        r.get("h")
    assert r.srem("s", "b") == 1
    assert r.exists("s") == 0  # an emptied set is gone


def test_expiry(r: redis.Redis) -> None:
    r.set("k", "v", ex=100)
    assert 99 <= r.ttl("k") <= 100
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.ttl("nope") == -2
    assert r.expire("nope", 10) is False
    r.set("short", "v", px=50)
    assert r.pexpire("k", 50) is True
    assert r.exists("k", "short") == 2
    time.sleep(0.12)
    assert r.exists("k", "short") == 0
    assert r.get("short") is None


def test_keys_dbsize_info_and_pipelining(r: redis.Redis) -> None:
    pipe = r.pipeline(transaction=False)
    for i in range(200):
        pipe.set(f"key:{i}", i)
        pipe.incr("counter")
    results = pipe.execute()
    assert results[-1] == 200
    assert r.dbsize() == 201
    assert len(r.keys("key:1*")) == 111
    info = r.info("replication")
    assert info["role"] == "active-active"
    assert r.ping() is True and r.echo("hi") == b"hi"


def test_unknown_command_and_arity_errors(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError) as err:
        r.execute_command("FOO", "a", "b")
    assert str(err.value) == "unknown command 'FOO', with args beginning with: 'a' 'b' "
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get' command"):
        r.execute_command("GET")
    with pytest.raises(redis.ResponseError, match="bad fault spec"):
        r.execute_command("SENATE.FAULT", "not json")  # --admin is on in the harness


def test_protocol_error_answers_then_closes(node: Replica) -> None:
    with socket.create_connection(("127.0.0.1", node.resp_port), timeout=5) as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n*x\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data == b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"


def test_redis_cli(node: Replica) -> None:
    assert shutil.which("redis-cli"), "redis-cli (Debian redis-tools) must be installed"

    def cli(*args: str) -> str:
        out = subprocess.run(
            ["redis-cli", "-p", str(node.resp_port), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()

    assert cli("SET", "clikey", "7") == "OK"
    assert cli("INCRBY", "clikey", "3") == "10"
    assert cli("SADD", "cliset", "a", "b") == "2"
    assert cli("GET", "cliset").startswith("WRONGTYPE")
    assert cli("NOSUCH").startswith("ERR unknown command 'NOSUCH'")
    assert "# Replication" in cli("INFO")
