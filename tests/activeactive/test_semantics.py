"""Conflict rules of the active-active keyspace, replica against replica (in process).

Each test makes concurrent writes on different replicas (no delivery in between),
then delivers everything and checks that all replicas agree on the documented answer.
"""

from __future__ import annotations

from tests.activeactive.sim import Clock, cluster, sync_all


def same(replicas: list, *args: str) -> bytes:  # type: ignore[type-arg]
    answers = {r(*args) for r in replicas}
    assert len(answers) == 1, (args, answers)
    return answers.pop()


def test_concurrent_increments_add_up() -> None:
    rs = cluster()
    for i, r in enumerate(rs):
        assert r("INCRBY", "c", 10 * (i + 1)) == b":%d\r\n" % (10 * (i + 1))
    sync_all(rs)
    assert same(rs, "GET", "c") == b"$2\r\n60\r\n"


def test_set_then_incr_reads_base_plus_increments() -> None:
    a, b, c = cluster()
    a("SET", "k", "10")
    sync_all([a, b, c])
    assert b("INCR", "k") == b":11\r\n"
    assert c("INCRBY", "k", "5") == b":15\r\n"
    sync_all([a, b, c])
    assert same([a, b, c], "GET", "k") == b"$2\r\n16\r\n"


def test_set_concurrent_with_incr_keeps_the_increment_on_top() -> None:
    a, b, _c = rs = cluster()
    a("SET", "k", "10")
    sync_all(rs)
    a("SET", "k", "100")
    b("INCR", "k")
    sync_all(rs)
    assert same(rs, "GET", "k") == b"$3\r\n101\r\n"


def test_strings_last_writer_wins_by_hlc_then_replica() -> None:
    clock = Clock()
    a, b, c = rs = cluster(clock=clock)
    a("SET", "k", "from-a")
    b("SET", "k", "from-b")  # same ms: the larger replica id wins the tie
    sync_all(rs)
    assert same(rs, "GET", "k") == b"$6\r\nfrom-b\r\n"
    clock.ms += 5
    a("SET", "k", "later-a")
    clock.ms -= 3  # c's write is concurrent and has a smaller HLC
    c("SET", "k", "c")
    sync_all(rs)
    assert same(rs, "GET", "k") == b"$7\r\nlater-a\r\n"


def test_a_set_that_observed_another_wins_whatever_the_clocks() -> None:
    clock = Clock()
    a, b, _c = rs = cluster(clock=clock)
    clock.ms += 1000
    a("SET", "k", "first")
    sync_all(rs)
    clock.ms -= 1000  # b's physical clock is behind, but b saw a's write
    b("SET", "k", "second")
    sync_all(rs)
    assert same(rs, "GET", "k") == b"$6\r\nsecond\r\n"


def test_add_wins_over_concurrent_remove() -> None:
    a, b, _c = rs = cluster()
    a("SADD", "s", "x", "y")
    sync_all(rs)
    a("SREM", "s", "x", "y")
    b("SADD", "s", "x")
    sync_all(rs)
    assert same(rs, "SMEMBERS", "s") == b"*1\r\n$1\r\nx\r\n"


def test_del_removes_only_what_it_observed() -> None:
    a, b, _c = rs = cluster()
    a("HSET", "h", "f", "1", "g", "2")
    sync_all(rs)
    a("DEL", "h")
    b("HSET", "h", "new", "3")
    sync_all(rs)
    assert same(rs, "HGETALL", "h") == b"*2\r\n$3\r\nnew\r\n$1\r\n3\r\n"


def test_counter_increment_concurrent_with_del_counts_from_zero() -> None:
    a, b, _c = rs = cluster()
    a("INCRBY", "c", "5")
    sync_all(rs)
    a("DEL", "c")
    b("INCR", "c")
    sync_all(rs)
    assert same(rs, "GET", "c") == b"$1\r\n1\r\n"
    a("DEL", "c")
    sync_all(rs)
    assert same(rs, "EXISTS", "c") == b":0\r\n"
    b("INCR", "c")
    sync_all(rs)
    assert same(rs, "GET", "c") == b"$1\r\n1\r\n"


def test_hash_fields_add_wins_and_hincrby_adds_up() -> None:
    a, b, c = rs = cluster()
    a("HSET", "h", "n", "10")
    sync_all(rs)
    a("HDEL", "h", "n")
    b("HINCRBY", "h", "n", "2")
    c("HINCRBY", "h", "n", "3")
    sync_all(rs)
    # HDEL removed the 10 it saw; both concurrent increments survive.
    assert same(rs, "HGET", "h", "n") == b"$1\r\n5\r\n"


def test_zset_zadd_lww_and_zincrby_counters() -> None:
    a, b, c = rs = cluster()
    a("ZADD", "z", "1", "m")
    sync_all(rs)
    b("ZINCRBY", "z", "2", "m")
    c("ZINCRBY", "z", "3.5", "m")
    sync_all(rs)
    assert same(rs, "ZSCORE", "z", "m") == b"$3\r\n6.5\r\n"
    a("ZADD", "z", "10", "m")
    b("ZINCRBY", "z", "1", "m")  # concurrent with the ZADD: added on top of it
    sync_all(rs)
    assert same(rs, "ZSCORE", "z", "m") == b"$2\r\n11\r\n"
    a("ZREM", "z", "m")
    b("ZADD", "z", "4", "other")
    sync_all(rs)
    assert same(rs, "ZRANGE", "z", "0", "-1", "WITHSCORES") == (b"*2\r\n$5\r\nother\r\n$1\r\n4\r\n")


def test_longest_expiry_wins_and_persist_beats_both() -> None:
    a, b, c = rs = cluster()
    a("SET", "k", "v")
    sync_all(rs)
    a("EXPIRE", "k", "100")
    b("EXPIRE", "k", "500")
    sync_all(rs)
    assert same(rs, "TTL", "k") == b":500\r\n"
    a("EXPIRE", "k", "1000")
    b("EXPIRE", "k", "2000")
    c("PERSIST", "k")
    sync_all(rs)
    assert same(rs, "TTL", "k") == b":-1\r\n"
    a("EXPIRE", "k", "50")  # after the PERSIST (causally): it applies
    sync_all(rs)
    assert same(rs, "TTL", "k") == b":50\r\n"


def test_expired_keys_read_as_absent_and_writes_start_fresh() -> None:
    clock = Clock()
    a, b, _c = rs = cluster(clock=clock)
    a("SADD", "s", "old")
    a("PEXPIRE", "s", "10")
    sync_all(rs)
    clock.ms += 11
    assert same(rs, "EXISTS", "s") == b":0\r\n"
    b("SADD", "s", "new")
    sync_all(rs)
    assert same(rs, "SMEMBERS", "s") == b"*1\r\n$3\r\nnew\r\n"
    assert same(rs, "TTL", "s") == b":-1\r\n"


def test_type_conflict_resolves_to_the_latest_write_everywhere() -> None:
    clock = Clock()
    a, b, _c = rs = cluster(clock=clock)
    a("SADD", "k", "x")
    clock.ms += 1
    b("SET", "k", "text")
    sync_all(rs)
    assert same(rs, "TYPE", "k") == b"+string\r\n"
    assert same(rs, "GET", "k") == b"$4\r\ntext\r\n"
    assert a("SADD", "k", "y").startswith(b"-WRONGTYPE")
    a("DEL", "k")  # removes both hidden and visible values
    sync_all(rs)
    assert same(rs, "EXISTS", "k") == b":0\r\n"


def test_full_state_merge_equals_op_delivery() -> None:
    a, b, c = cluster()
    a("SADD", "s", "1", "2")
    a("INCRBY", "c", "7")
    b("HSET", "h", "f", "v")
    sync_all([a, b, c])
    a("SREM", "s", "1")
    b("SADD", "s", "1")
    b("DECR", "c")
    # c learns a's and b's new ops by whole states instead of ops
    for src in (a, b):
        vv, keys = src.space.decode_state(src.space.encode_state())
        c.space.join_state(vv, keys)
    sync_all([a, b])
    for key in (b"s", b"c", b"h"):
        for args in (("SMEMBERS", key), ("GET", key), ("HGETALL", key)):
            answers = {r(*args) for r in (a, b, c)}
            assert len(answers) == 1, (args, answers)
    assert c("SMEMBERS", "s") == b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    assert c("GET", "c") == b"$1\r\n6\r\n"


def test_state_merge_does_not_resurrect_what_the_receiver_removed() -> None:
    a, b, c = rs = cluster()
    a("SADD", "s", "x")
    a("HSET", "h", "f", "1")
    sync_all(rs)
    b("SREM", "s", "x")
    b("HDEL", "h", "f")
    vv, keys = a.space.decode_state(a.space.encode_state())
    b.space.join_state(vv, keys)  # a's state still has x and f, but b saw them and removed them
    assert b("SMEMBERS", "s") == b"*0\r\n"
    assert b("HGETALL", "h") == b"*0\r\n"
    vv, keys = b.space.decode_state(b.space.encode_state())
    c.space.join_state(vv, keys)  # and b's state removes them at c, which had them live
    assert c("SMEMBERS", "s") == b"*0\r\n"
    assert c("EXISTS", "h") == b":0\r\n"


def test_admin_command_is_unknown_unless_enabled() -> None:
    (a,) = cluster(1)
    assert a("SENATE.FAULT", "{}").startswith(b"-ERR unknown command 'SENATE.FAULT'")
    a.cmd.admin = lambda raw: b"+OK\r\n"
    assert a("SENATE.FAULT", "{}") == b"+OK\r\n"


def test_redis_errors_and_options() -> None:
    (a,) = cluster(1)
    assert a("GET") == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert a("SET", "k", "v", "EX", "0") == b"-ERR invalid expire time in 'set' command\r\n"
    assert a("SET", "k", "v", "NX", "XX") == b"-ERR syntax error\r\n"
    assert a("INCRBY", "k", "1.5") == b"-ERR value is not an integer or out of range\r\n"
    assert a("INCRBYFLOAT", "k", "nan") == b"-ERR value is not a valid float\r\n"
    assert a("SET", "k", "1", "KEEPTTL") == b"+OK\r\n"
    assert a("EXPIRE", "k", "100") == b":1\r\n"
    assert a("SET", "k", "2", "KEEPTTL") == b"+OK\r\n"
    assert a("TTL", "k") == b":100\r\n"
    assert a("SET", "k", "3") == b"+OK\r\n"
    assert a("TTL", "k") == b":-1\r\n"
    assert a("DECRBY", "k", "-9223372036854775808") == b"-ERR decrement would overflow\r\n"
    assert a("ZADD", "z", "NX", "XX", "1", "m").startswith(b"-ERR XX and NX")
    assert a("ZADD", "z", "INCR", "2", "m") == b"$1\r\n2\r\n"
    assert a("ZADD", "z", "CH", "5", "m", "1", "n") == b":2\r\n"
    assert a("SELECT", "1") == b"-ERR DB index is out of range\r\n"
    assert a("HSET", "h", "f") == b"-ERR wrong number of arguments for 'hset' command\r\n"


def test_counter_churn_past_uint64_on_one_replica_answers_as_redis() -> None:
    """What must stay in int64 is the value a client sees, not a replica's running total:
    INCRBY/DECRBY churn whose increments sum past 2**64 answers exactly as Redis (it used
    to be refused as an overflow when the totals were grow-only up/down sums)."""
    (a,) = cluster(1)
    big = str(2**63 - 1)
    for _ in range(3):
        assert a("INCRBY", "k", big) == b":%s\r\n" % big.encode()
        assert a("DECRBY", "k", big) == b":0\r\n"
    assert a("INCRBY", "k", big) == b":%s\r\n" % big.encode()
    assert a("INCR", "k") == b"-ERR increment or decrement would overflow\r\n"
    assert a("GET", "k") == b"$19\r\n%s\r\n" % big.encode()
    for _ in range(5):  # SET/INCRBY churn: each reset lets the total start over from 0
        assert a("SET", "k", "0") == b"+OK\r\n"
        assert a("INCRBY", "k", big) == b":%s\r\n" % big.encode()
    cell = a.space.keys[b"k"].cells[0][b""]
    assert cell.tot["n1"][2] == 2**63 - 1


def test_a_total_past_uint64_after_concurrent_resets_travels_and_converges() -> None:
    """A reset concurrent with an increment only partly covers the origin's total, so
    the total can grow past 64 bits (the value stays small): it travels as decimal text."""
    a, b = rs = cluster(2)
    big = 2**63 - 1
    for _ in range(3):
        assert a("INCRBY", "k", big) == b":%d\r\n" % big
        sync_all(rs)
        assert a("INCRBY", "k", 0) == b":%d\r\n" % big  # concurrent with b's reset
        assert b("SET", "k", "0") == b"+OK\r\n"
        sync_all(rs)
        assert same(rs, "GET", "k") == b"$1\r\n0\r\n"
    assert a.space.keys[b"k"].cells[0][b""].tot["n1"][2] == 3 * big > 2**64
    assert a("INCRBY", "k", 5) == b":5\r\n"
    sync_all(rs)
    assert same(rs, "GET", "k") == b"$1\r\n5\r\n"
