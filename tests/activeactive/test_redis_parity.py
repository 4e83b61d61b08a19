"""Side by side with a real redis-server: single-replica command semantics, reply for reply.

A table of command sequences runs through `redis-cli --no-raw` (a real client that shows
each reply's type: status OK vs bulk "OK", (integer), (nil), (error), (double) in RESP3)
against a redis-server started here (free port, persistence off, killed at the end) and
against one Senate replica (`python -m senate.activeactive`), and the transcripts must be
identical, over RESP2 and RESP3. Only single-replica semantics are compared: where Redis
and Redis Enterprise Active-Active agree. The deliberate differences are listed in
DIFFERENCES below, with the reason, and kept out of the table.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from tests.activeactive.harness import free_port, running

# Deliberate active-active differences (not in the table; each is a documented rule):
DIFFERENCES = {
    "SMEMBERS/HGETALL/KEYS order": "Senate answers sorted (every replica the same order); "
    "Redis answers in hash-table order, so the table uses one-member sets or sorted input",
    "INFO, HELLO, CONFIG, COMMAND, CLIENT": "server-specific answers",
    "OBJECT ENCODING, DEBUG": "Senate has no encodings",
    "-0 as a score": "Redis prints '-0' for a sorted set in skiplist encoding and '0' in "
    "listpack (small sets); Senate always prints '0'",
    "SELECT 1": "one keyspace per replica (as an Active-Active database: only DB 0); "
    "Senate answers ERR DB index is out of range",
    "GET after concurrent SET and INCR": "active-active only (no single-replica equivalent)",
}

CASES: dict[str, list[str]] = {
    "strings": [
        "GET k",
        "SET k v",
        "GET k",
        'SET k "hello world"',
        "GET k",
        "SET k v2 NX",
        "SET n v NX",
        "SET k v3 XX",
        "SET m v XX",
        "GET m",
        "SET k v4 GET",
        "SET q v GET",
        "SET k v NX XX",
        "SET k v EX 0",
        "SET k v EX -5",
        "SET k v EX notanumber",
        "SET k v EX",
        "SET k v BOGUS",
        "SET k v KEEPTTL EX 5",
        "TYPE k",
        "TYPE nope",
        "GET k extra",
        "SET k",
        "ECHO hi",
        "PING",
        "PING hello",
        "SELECT 0",
    ],
    "incr": [
        "INCR c",
        "INCR c",
        "INCRBY c 10",
        "DECR c",
        "DECRBY c 5",
        "INCRBY c -3",
        "DECRBY c -3",
        "GET c",
        "INCRBY c 1.5",
        "INCRBY c abc",
        "INCRBY c 9223372036854775808",
        "INCRBY c -9223372036854775809",
        "INCRBY c +1",
        "INCRBY c 01",
        'INCRBY c " 1"',
        "SET big 9223372036854775806",
        "INCR big",
        "INCR big",
        "GET big",
        "SET small -9223372036854775807",
        "DECR small",
        "DECR small",
        "DECRBY small 1",
        "DECRBY c -9223372036854775808",
        "INCRBY c 9223372036854775807",
        "SET t abc",
        "INCR t",
        "SET t 1.0",
        "INCR t",
        'SET t " 1"',
        "INCR t",
        "SET t 007",
        "INCR t",
        "SET t -0",
        "INCR t",
        "SADD s a",
        "INCR s",
        "DECRBY s 1",
        "INCRBYFLOAT s 1",
        "GET s",
        "INCR",
        "INCRBY c",
        "INCR c c",
    ],
    "incr churn past 64 bits": [
        "INCRBY c 9223372036854775807",
        "DECRBY c 9223372036854775807",
        "INCRBY c 9223372036854775807",
        "DECRBY c 9223372036854775807",
        "INCRBY c 9223372036854775807",
        "DECRBY c 9223372036854775807",
        "INCRBY c 9223372036854775807",
        "SET c 0",
        "INCRBY c 9223372036854775807",
        "SET c 0",
        "INCRBY c 9223372036854775807",
        "INCR c",
        "GET c",
    ],
    "incrbyfloat": [
        "INCRBYFLOAT f 0.1",
        "INCRBYFLOAT f 0.2",
        "GET f",
        "SET g 3.0",
        "INCRBYFLOAT g 0",
        "GET g",
        "INCR g",
        "INCRBYFLOAT g 1.5",
        "INCR g",
        "INCRBYFLOAT h 1e-20",
        "INCRBYFLOAT h -1e-20",
        "GET h",
        "INCRBYFLOAT i 1e300",
        "INCRBYFLOAT i 1e300",
        "INCRBYFLOAT j 123456789.123456789123",
        "INCRBYFLOAT x 1e17",
        "INCRBYFLOAT x -1e17",
        "INCRBYFLOAT x 0.5",
        "GET x",
        "INCRBYFLOAT y 1e17",
        "INCRBYFLOAT y 0.5",
        "INCRBYFLOAT y -0.0",
        "INCRBYFLOAT z -0.0",
        "INCRBYFLOAT z inf",
        "INCRBYFLOAT z -inf",
        "INCRBYFLOAT z nan",
        "INCRBYFLOAT z abc",
        "INCRBYFLOAT z 1e-5000",
        "INCRBYFLOAT z 1e5000",
        "INCRBYFLOAT z 1e4000",
        "INCRBYFLOAT z 1e4000",
        "INCRBYFLOAT w 1.7976931348623157e308",
        "INCRBYFLOAT w 1.7976931348623157e308",
        "SET hex 0x10",
        "INCRBYFLOAT hex 1",
        "INCRBYFLOAT hex2 0x1p3",
        "INCRBYFLOAT hex2 0x.8",
        "INCRBYFLOAT hex2 0x",
        "INCRBYFLOAT p +.5",
        "INCRBYFLOAT p 5.",
        "INCRBYFLOAT p 1e",
        "INCRBYFLOAT p 1e+2",
        "INCRBYFLOAT p Infinity",
        'INCRBYFLOAT p " 1"',
        'INCRBYFLOAT p "1 "',
        'INCRBYFLOAT p ""',
        "SET t abc",
        "INCRBYFLOAT t 1",
        "SET t inf",
        "INCRBYFLOAT t 1",
        "SET t 1e10",
        "INCRBYFLOAT t 1",
        "SET t 2.50",
        "INCRBYFLOAT t 0",
        "INCRBYFLOAT t -5",
        "INCRBYFLOAT t 0.000000000000000001",
        "INCRBYFLOAT t 99999999999999999999",
        "INCRBYFLOAT",
        "INCRBYFLOAT t",
        "SET m 9223372036854775807",
        "INCRBYFLOAT m 1",
        "INCRBYFLOAT m 0.5",
        "INCR m",
        "SET e 1e2",
        "GET e",
        "INCRBYFLOAT e 0",
        "INCRBYFLOAT e -0.000001",
        "INCRBYFLOAT e 1e-18",
        "INCRBYFLOAT e 2e-17",
        "INCRBYFLOAT e -100",
        "INCRBYFLOAT e 7e-17",
        *["INCRBYFLOAT tenth 0.1"] * 10,
        *["INCRBYFLOAT third 1.1"] * 3,
        *["INCRBYFLOAT big 12345678901234567.891"] * 3,
    ],
    "sets": [
        "SADD s a",
        "SADD s a",
        "SADD s b c",
        "SADD s c d d",
        "SCARD s",
        "SISMEMBER s a",
        "SISMEMBER s zz",
        "SREM s a zz",
        "SREM s a",
        "SCARD s",
        "SREM s b c d",
        "EXISTS s",
        "SCARD s",
        "SMEMBERS s",
        "SADD one x",
        "SMEMBERS one",
        "SADD n 3 1 2",
        "SMEMBERS n",
        "SET str v",
        "SADD str a",
        "SREM str a",
        "SMEMBERS str",
        "SISMEMBER str a",
        "SCARD str",
        "SADD s",
        "SISMEMBER s",
        "SREM nope a",
        "SMEMBERS nope",
    ],
    "hashes": [
        "HSET h f v",
        "HSET h f v2 g w",
        "HGET h f",
        "HGET h nope",
        "HGET nope f",
        "HEXISTS h g",
        "HEXISTS h nope",
        "HLEN h",
        "HMSET h a 1 b 2",
        "HGETALL h2",
        "HSET h2 a 1 b 2 c 3",
        "HGETALL h2",
        "HDEL h f nope",
        "HDEL h f",
        "HLEN h",
        "HSET h",
        "HSET h f",
        "HSET h f v g",
        "HINCRBY h n 5",
        "HINCRBY h n -7",
        "HINCRBY h n 1.5",
        "HINCRBY h g 1",
        "HSET h big 9223372036854775807",
        "HINCRBY h big 1",
        "HINCRBY h big -1",
        "HINCRBYFLOAT h fl 0.1",
        "HINCRBYFLOAT h fl 0.2",
        "HINCRBYFLOAT h fl inf",
        "HINCRBYFLOAT h fl nan",
        "HINCRBYFLOAT h fl abc",
        "HINCRBYFLOAT h g 1",
        "HINCRBYFLOAT h n 1e300",
        "HINCRBYFLOAT h tiny 1e-20",
        "HSET h three 3.0",
        "HINCRBYFLOAT h three 0",
        "HGET h three",
        "HINCRBY h three 1",
        "HSET str f v",
        "SET str v",
        "HSET str f v",
        "HGET str f",
        "HINCRBY str f 1",
        "HINCRBYFLOAT str f 1",
        "HINCRBYFLOAT str f nan",
        "HGETALL str",
        "HDEL h2 a b c",
        "EXISTS h2",
    ],
    "sorted sets": [
        "ZADD z 1 a",
        "ZADD z 2 b 3 c",
        "ZADD z 1 a",
        "ZADD z CH 5 a 2 b",
        "ZADD z NX 9 a 4 d",
        "ZADD z XX 9 a 4 e",
        "ZADD z XX NX 1 a",
        "ZADD z NX GT 1 a",
        "ZADD z LT NX 1 a",
        "ZADD z GT LT 1 a",
        "ZADD z GT 1 a",
        "ZADD z GT CH 10 a",
        "ZADD z LT CH 20 a",
        "ZADD z LT CH 0.5 a",
        "ZADD z GT 7 new",
        "ZADD z GT XX CH 8 new 1 missing",
        "ZADD z LT XX CH 100 new",
        "ZADD z CH 1 dup 2 dup",
        "ZADD z 1 dup2 1 dup2",
        "ZRANGE z 0 -1 WITHSCORES",
        "ZADD z INCR 2 a",
        "ZADD z INCR 2 a 3 b",
        "ZADD z GT INCR -1 a",
        "ZADD z GT INCR 1 a",
        "ZADD z LT INCR 1 a",
        "ZADD z LT INCR -1 a",
        "ZADD z NX INCR 1 a",
        "ZADD z XX INCR 1 nope",
        "ZADD z INCR 5 fresh",
        "ZADD z nan a",
        "ZADD z abc a",
        "ZADD z 1 a 2",
        "ZADD z",
        "ZADD z xx",
        "ZADD z ch 1 a incr",
        "ZADD z 0x10 hex",
        "ZADD z 1e-400 tiny",
        "ZADD z 1e400 huge",
        "ZADD z 1.5e-320 sub",
        "ZADD z inf top -inf bottom",
        "ZSCORE z hex",
        "ZSCORE z sub",
        "ZSCORE z nope",
        "ZSCORE nope a",
        "ZCARD z",
        "ZRANGE z 0 -1 WITHSCORES",
        "ZRANGE z 1 3",
        "ZRANGE z -2 -1 WITHSCORES",
        "ZRANGE z 5 1",
        "ZRANGE z 0 -1 BOGUS",
        "ZREM z a nope",
        "ZREM z a",
        "ZCARD z",
        "ZINCRBY z 2.5 b",
        "ZINCRBY z 1 newmember",
        "ZINCRBY z nan b",
        "ZINCRBY z abc b",
        "ZINCRBY z 1",
        "ZADD f 0.1 a",
        "ZINCRBY f 0.2 a",
        "ZSCORE f a",
        "ZADD f 1e-20 b 1e300 c 3.0 d 123456789012345678 e",
        "ZRANGE f 0 -1 WITHSCORES",
        "ZADD g 1e17 a",
        "ZINCRBY g -1e17 a",
        "ZINCRBY g 0.5 a",
        "ZINCRBY h 1e17 a",
        "ZINCRBY h -1e17 a",
        "ZINCRBY h 0.5 a",
        "ZSCORE h a",
        *["ZINCRBY tenth 0.1 m"] * 10,
        *["ZINCRBY third -1.1 m"] * 3,
        "ZADD neg -0.0 m",
        "ZSCORE neg m",
        "ZINCRBY neg -0.0 m",
        "ZADD big 9007199254740993 m",
        "ZSCORE big m",
        "ZINCRBY big 1 m",
        "SET str v",
        "ZADD str 1 a",
        "ZINCRBY str 1 a",
        "ZSCORE str a",
        "ZRANGE str 0 -1",
        "ZCARD str",
        "ZREM str a",
    ],
    "infinite scores never poison a member": [
        "ZADD z 1 a",
        "ZINCRBY z inf a",
        "ZADD z CH 2 a",
        "ZSCORE z a",
        "ZRANGE z 0 -1 WITHSCORES",
        "ZINCRBY z 1 a",
        "ZINCRBY z inf a",
        "ZINCRBY z -inf a",
        "ZINCRBY z 5 a",
        "ZADD z INCR -inf a",
        "ZADD z -inf a",
        "ZINCRBY z -1 a",
        "ZINCRBY z inf a",
        "ZADD z 3 a",
        "ZINCRBY z 1e308 a",
        "ZINCRBY z 1e308 a",
        "ZSCORE z a",
        "ZADD z 0 a",
        "ZINCRBY z 1 a",
        "ZSCORE z a",
    ],
    "expiry and keys": [
        "SET k v",
        "TTL k",
        "PTTL nope",
        "TTL nope",
        "EXPIRE k 100",
        "TTL k",
        "EXPIRE nope 100",
        "PERSIST k",
        "PERSIST k",
        "TTL k",
        "PERSIST nope",
        "EXPIRE k abc",
        "EXPIRE k",
        "SET k v EX 100",
        "TTL k",
        "SET k v2 KEEPTTL",
        "TTL k",
        "SET k v3",
        "TTL k",
        "EXPIRE k 100",
        "SET k v4 GET",
        "TTL k",
        "EXPIRE k 0",
        "EXISTS k",
        "GET k",
        "SET k v",
        "EXPIRE k -1",
        "EXISTS k",
        "SADD s a",
        "EXPIRE s 50",
        "TTL s",
        "SREM s a",
        "TTL s",
        "SADD s a",
        "TTL s",
        "SET a 1",
        "SET b 2",
        "EXISTS a b nope a",
        "DEL a nope",
        "DEL a b",
        "EXISTS a b",
        "DEL",
        "EXISTS",
        "UNLINK nope",
        "DBSIZE",
    ],
    "errors": [
        "NOSUCHCOMMAND",
        "NOSUCHCOMMAND a b c",
        "nosuchcommand a",
        "GET",
        "SET",
        "SET k",
        "HGET h",
        "ZSCORE z",
        "TTL",
        "EXPIRE k",
        "PING a b",
        "ECHO",
        "ECHO a b",
        "SADD s",
        "ZADD z 1",
        "HINCRBY h f",
        "DBSIZE x",
    ],
}


def _random_float_case(seed: int, n: int) -> list[str]:
    """Seeded float arithmetic: decimal, exponent and hex operands over INCRBYFLOAT,
    HINCRBYFLOAT, ZINCRBY, ZADD and SET (long double vs double, and their printing)."""
    rng = random.Random(seed)

    def num() -> str:
        k = rng.randrange(6)
        if k == 0:
            return str(rng.randint(-(10**6), 10**6))
        if k == 1:
            return repr(rng.uniform(-1e3, 1e3))
        if k == 2:
            return f"{rng.randint(-999, 999)}.{rng.randint(0, 10 ** rng.randint(1, 25))}"
        if k == 3:
            return f"{rng.choice(['', '-'])}{rng.randint(1, 99)}e{rng.randint(-30, 30)}"
        if k == 4:
            return rng.choice(["0.1", "1.1", "-0.0", "1e17", "-1e17", "0.5", "3.0", "1e-20"])
        sign = rng.choice(["", "-"])
        return f"{sign}0x{rng.randint(0, 10**6):x}.{rng.randint(0, 999):x}p{rng.randint(-20, 20)}"

    lines = []
    for _ in range(n):
        k = rng.choice("abc")
        lines.append(
            rng.choice(
                [
                    f"INCRBYFLOAT {k} {num()}",
                    f"SET {k} {num()}",
                    f"ZINCRBY z{k} {num()} m",
                    f"ZADD z{k} {num()} m",
                    f"HINCRBYFLOAT h {k} {num()}",
                ]
            )
        )
    return lines


CASES["random float arithmetic (seeded)"] = _random_float_case(7, 300)


@pytest.fixture(scope="module")
def ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    for tool in ("redis-server", "redis-cli"):
        assert shutil.which(tool), f"{tool} is missing: run ./scripts/setup.sh"
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--protected-mode", "no"]
    server = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        probe = redis.Redis(port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        probe.close()
        with running(tmp_path_factory.mktemp("parity"), 1) as (replica,):
            yield port, replica.resp_port
    finally:
        server.kill()
        server.wait(10)


def transcript(port: int, lines: list[str], resp3: bool) -> list[str]:
    """Each command's reply as redis-cli --no-raw prints it (commands split by ECHO marks)."""
    stdin = "FLUSHALL\n" + "".join(f'ECHO "#{i}"\n{line}\n' for i, line in enumerate(lines))
    args = ["redis-cli", "--no-raw", "-p", str(port)] + (["-3"] if resp3 else [])
    out = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=60)
    replies: list[str] = []
    for text in out.stdout.splitlines()[1:]:  # after FLUSHALL's OK
        if text.startswith('"#') and text.endswith('"') and text[2:-1].isdigit():
            replies.append("")
        else:
            replies[-1] += text + "\n"
    assert len(replies) == len(lines), (out.stdout[-2000:], out.stderr[-2000:])
    return replies


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
@pytest.mark.parametrize("case", list(CASES))
def test_replies_match_redis(ports: tuple[int, int], case: str, resp3: bool) -> None:
    lines = CASES[case]
    expected = transcript(ports[0], lines, resp3)
    got = transcript(ports[1], lines, resp3)
    diffs = [
        f"{line!r}:\n  redis:  {want!r:.300}\n  senate: {have!r:.300}"
        for line, want, have in zip(lines, expected, got, strict=True)
        if want != have
    ]
    assert not diffs, f"{len(diffs)} replies differ from redis-server:\n" + "\n".join(diffs)


def test_the_comparison_can_fail(ports: tuple[int, int]) -> None:
    """The transcripts do tell servers apart (a reply Senate answers differently)."""
    lines = ["INFO server"]
    assert transcript(ports[0], lines, False) != transcript(ports[1], lines, False)
