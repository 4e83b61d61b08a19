"""Property: replicas that run random commands and exchange ops in random (causal)
orders, with duplicates and some whole-state transfers, all answer every read alike."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.activeactive.sim import Clock, Replica, cluster, sync_all

KEYS = ["a", "b"]
MEMBERS = ["x", "y"]

command = st.one_of(
    st.tuples(st.just("SET"), st.sampled_from(KEYS), st.sampled_from(["1", "5", "txt"])),
    st.tuples(st.just("INCRBY"), st.sampled_from(KEYS), st.sampled_from(["1", "-2", "7"])),
    st.tuples(st.just("INCRBYFLOAT"), st.sampled_from(KEYS), st.sampled_from(["0.5", "-1.25"])),
    st.tuples(st.just("DEL"), st.sampled_from(KEYS)),
    st.tuples(st.just("SADD"), st.sampled_from(KEYS), st.sampled_from(MEMBERS)),
    st.tuples(st.just("SREM"), st.sampled_from(KEYS), st.sampled_from(MEMBERS)),
    st.tuples(st.just("HSET"), st.sampled_from(KEYS), st.sampled_from(MEMBERS), st.just("v")),
    st.tuples(st.just("HINCRBY"), st.sampled_from(KEYS), st.sampled_from(MEMBERS), st.just("3")),
    st.tuples(st.just("HDEL"), st.sampled_from(KEYS), st.sampled_from(MEMBERS)),
    st.tuples(
        st.just("ZADD"),
        st.sampled_from(KEYS),
        st.sampled_from(["1", "2"]),
        st.sampled_from(MEMBERS),
    ),
    st.tuples(st.just("ZINCRBY"), st.sampled_from(KEYS), st.just("1.5"), st.sampled_from(MEMBERS)),
    st.tuples(st.just("ZREM"), st.sampled_from(KEYS), st.sampled_from(MEMBERS)),
    st.tuples(st.just("EXPIRE"), st.sampled_from(KEYS), st.sampled_from(["100", "200"])),
    st.tuples(st.just("PERSIST"), st.sampled_from(KEYS)),
)

step = st.one_of(
    st.tuples(st.just("cmd"), st.integers(0, 2), command),
    st.tuples(st.just("deliver"), st.integers(0, 2), st.integers(0, 2), st.integers(0, 30)),
    st.tuples(st.just("state"), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.just("tick"), st.integers(1, 5)),
)

READS = [
    ("TYPE",),
    ("GET",),
    ("SMEMBERS",),
    ("HGETALL",),
    ("ZRANGE", "0", "-1", "WITHSCORES"),
    ("TTL",),
]


def snapshot(r: Replica) -> list[bytes]:
    out = []
    for key in KEYS:
        for read in READS:
            reply = r(read[0], key, *read[1:])
            out.append(b"" if reply.startswith(b"-WRONGTYPE") else reply)
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=8, max_size=60))
def test_random_histories_converge(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    clock = Clock()
    rs = cluster(3, clock)
    for s in steps:
        if s[0] == "cmd":
            rs[s[1]](*s[2])
        elif s[0] == "deliver":
            src, dst, upto = rs[s[1]], rs[s[2]], s[3]
            if src is not dst:
                dst.receive(src.ops[:upto])  # a prefix: duplicates and gaps both happen
        elif s[0] == "state":
            src, dst = rs[s[1]], rs[s[2]]
            if src is not dst:
                vv, keys = src.space.decode_state(src.space.encode_state())
                dst.space.join_state(vv, keys)
                dst.rep.joined_state([])
        else:
            clock.ms += s[1]
    sync_all(rs)
    views = [snapshot(r) for r in rs]
    assert views[0] == views[1] == views[2]
    assert rs[0].space.vv == rs[1].space.vv == rs[2].space.vv
    # and a whole state round trip changes nothing
    for r in rs:
        vv, keys = r.space.decode_state(r.space.encode_state())
        assert r.space.decode_state(r.space.encode_state())[0] == vv
        assert len(keys) == len(r.space.keys)
