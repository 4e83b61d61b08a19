"""Watches: history by key and prefix, compaction, resume without gaps, live callbacks."""

from __future__ import annotations

import pytest
from kv_client import Client

from senate.errors import MalformedInput, SenateError
from senate.kv import (
    Compacted,
    Delete,
    Event,
    EventKind,
    KVStore,
    LeaseGrant,
    LeaseRevoke,
    Put,
    Txn,
    WatchHub,
)


def brief(events: list[Event]) -> list[tuple[str, str, bytes, int]]:
    return [(e.kind.value, e.key, e.value, e.revision) for e in events]


def fill(store: KVStore) -> Client:
    c = Client(store)
    c.do(Put("a", b"1"))  # 1
    c.do(Put("b/1", b"x"))  # 2
    c.do(Put("a", b"2"))  # 3
    c.do(Delete("b/1"))  # 4
    c.do(Delete("nothing"))  # no revision, no event
    c.do(Txn((), (Put("b/2", b"y"), Put("c", b"z"))))  # 5
    return c


def test_events_since_by_key_and_prefix() -> None:
    s = KVStore()
    fill(s)
    hub = s.watch_hub
    assert hub.revision == 5 and hub.oldest_revision == 1
    assert brief(hub.events_since(1)) == [
        ("put", "a", b"1", 1),
        ("put", "b/1", b"x", 2),
        ("put", "a", b"2", 3),
        ("delete", "b/1", b"", 4),
        ("put", "b/2", b"y", 5),
        ("put", "c", b"z", 5),
    ]
    assert brief(hub.events_since(2, key="a")) == [("put", "a", b"2", 3)]
    assert brief(hub.events_since(1, prefix="b/")) == [
        ("put", "b/1", b"x", 2),
        ("delete", "b/1", b"", 4),
        ("put", "b/2", b"y", 5),
    ]
    assert hub.events_since(6) == [] and hub.events_since(99) == []
    deleted = hub.events_since(4, key="b/1")[0]
    assert deleted.kind is EventKind.DELETE and deleted.kv is None
    assert deleted.prev is not None and deleted.prev.value == b"x"
    put = hub.events_since(3, key="a")[0]
    assert put.prev is not None and put.prev.value == b"1" and put.kv == s.get("a")


def test_bad_arguments() -> None:
    hub = KVStore().watch_hub
    with pytest.raises(MalformedInput):
        hub.events_since(0)
    with pytest.raises(MalformedInput):
        hub.events_since(1, key="a", prefix="a")
    with pytest.raises(MalformedInput):
        hub.watch(1, print, key="a", prefix="a")
    for start in [0, -1, "3", 2.0, True]:
        with pytest.raises(MalformedInput):
            hub.watch(start, print)  # type: ignore[arg-type]
    assert hub.watchers == []


def test_history_is_bounded_and_old_starts_are_compacted() -> None:
    s = KVStore(watch_hub=WatchHub(max_events=3))
    fill(s)  # 6 events in revisions 1..5; keeping <= 3 leaves revisions 4 and 5
    hub = s.watch_hub
    assert hub.oldest_revision == 4
    with pytest.raises(Compacted) as err:
        hub.events_since(3)
    assert err.value.oldest_revision == 4 and isinstance(err.value, SenateError)
    assert brief(hub.events_since(4)) == [
        ("delete", "b/1", b"", 4),
        ("put", "b/2", b"y", 5),
        ("put", "c", b"z", 5),
    ]
    with pytest.raises(Compacted):
        hub.watch(1, print)


def test_a_revision_bigger_than_the_bound_is_kept_whole() -> None:
    s = KVStore(watch_hub=WatchHub(max_events=1))
    Client(s).do(Txn((), (Put("a", b""), Put("b", b""), Put("c", b""))))
    assert len(s.watch_hub.events_since(1)) == 3


def test_byte_bound() -> None:
    s = KVStore(watch_hub=WatchHub(max_bytes=250))
    c = Client(s)
    for i in range(10):
        c.do(Put("k", bytes(100)))  # each event keeps ~201 bytes (value + prev value)
        assert s.watch_hub.oldest_revision == i + 1
    assert len(s.watch_hub.events_since(s.watch_hub.oldest_revision)) == 1


def test_callbacks_fire_after_apply_with_the_store_at_that_revision() -> None:
    s = KVStore()
    seen: list[tuple[int, list[tuple[str, str, bytes, int]]]] = []
    s.watch_hub.watch(None, lambda events: seen.append((s.revision, brief(events))))
    c = Client(s)
    c.do(Put("a", b"1"))
    c.do(Put("a", b"1", prev_revision=0))  # fails: no event
    c.do(LeaseGrant(1, 10))  # no key change: no event
    c.do(Txn((), (Put("x", b"", lease=1), Put("y", b"", lease=1))))
    c.do(LeaseRevoke(1))
    assert seen == [
        (1, [("put", "a", b"1", 1)]),
        (2, [("put", "x", b"", 2), ("put", "y", b"", 2)]),
        (3, [("delete", "x", b"", 3), ("delete", "y", b"", 3)]),
    ]


def test_watch_from_the_past_delivers_the_backlog_then_live_events_once() -> None:
    s = KVStore()
    c = fill(s)
    got: list[Event] = []
    w = s.watch_hub.watch(2, got.extend, prefix="b/")
    assert brief(got) == [
        ("put", "b/1", b"x", 2),
        ("delete", "b/1", b"", 4),
        ("put", "b/2", b"y", 5),
    ]
    c.do(Put("b/3", b"w"))
    c.do(Put("zz", b"w"))
    assert brief(got)[3:] == [("put", "b/3", b"w", 6)] and w.next_revision == 8
    w.cancel()
    c.do(Put("b/4", b""))
    assert len(got) == 4 and w.closed and s.watch_hub.watchers == []


def test_future_start_revision_waits() -> None:
    s = KVStore()
    c = Client(s)
    got: list[Event] = []
    s.watch_hub.watch(3, got.extend)
    c.do(Put("a", b"1"))
    c.do(Put("a", b"2"))
    assert got == []
    c.do(Put("a", b"3"))
    assert brief(got) == [("put", "a", b"3", 3)]


def test_resume_with_last_revision_plus_one_has_no_gaps_and_no_duplicates() -> None:
    s = KVStore()
    c = Client(s)
    received: list[Event] = []
    batch: list[Event] = []
    w = s.watch_hub.watch(1, batch.extend, key="k")
    for i in range(30):
        c.do(Put("k", str(i).encode()) if i % 3 else Delete("k"))
        c.do(Put("other", b""))
        if i % 7 == 6:  # disconnect, then reconnect from the last seen revision + 1
            w.cancel()
            received.extend(batch)
            last = received[-1].revision if received else 0
            c.do(Put("k", b"while away"))
            batch = []
            w = s.watch_hub.watch(last + 1, batch.extend, key="k")
    received.extend(batch)
    expected = s.watch_hub.events_since(1, key="k")
    assert received == expected
    revisions = [e.revision for e in received]
    assert revisions == sorted(set(revisions))


def test_restore_keeps_watchers_that_missed_nothing_and_compacts_the_rest() -> None:
    leader = KVStore()
    fill(leader)  # revision 5
    follower = KVStore()
    Client(follower, "f").do(Put("q", b""))  # the follower's own history: revision 1
    hub = follower.watch_hub
    closed: list[BaseException | None] = []
    behind = hub.watch(None, print, on_close=lambda w: closed.append(w.error))
    live: list[Event] = []
    ahead = hub.watch(6, live.extend)  # waits for revision 6: misses nothing
    restored = KVStore.restore(leader.snapshot(), watch_hub=hub)
    assert restored.watch_hub is hub and hub.oldest_revision == 6 and hub.revision == 5
    assert behind.closed and isinstance(closed[0], Compacted)
    assert closed[0].oldest_revision == 6 and not ahead.closed
    with pytest.raises(Compacted):
        hub.events_since(5)
    Client(restored, "g").do(Put("after", b"1"))
    assert brief(live) == [("put", "after", b"1", 6)]
    # A snapshot at the revision the hub already stands at loses nothing.
    again = KVStore.restore(restored.snapshot(), watch_hub=hub)
    assert again.watch_hub.watchers == [ahead] and brief(hub.events_since(6)) == brief(live)


def test_restore_without_a_hub_starts_fresh_after_the_snapshot() -> None:
    s = KVStore()
    fill(s)
    r = KVStore.restore(s.snapshot())
    assert r.watch_hub is not s.watch_hub and r.watch_hub.oldest_revision == 6
    assert r.watch_hub.events_since(6) == []
    Client(r, "z").do(Put("n", b""))
    assert brief(r.watch_hub.events_since(6)) == [("put", "n", b"", 6)]


def test_a_raising_callback_closes_only_its_watcher() -> None:
    s = KVStore()
    good: list[Event] = []

    def bad(events: list[Event]) -> None:
        raise RuntimeError("broken pipe")

    broken = s.watch_hub.watch(None, bad)
    s.watch_hub.watch(None, good.extend)
    c = Client(s)
    assert c.do(Put("a", b"")).succeeded
    c.do(Put("b", b""))
    assert broken.closed and isinstance(broken.error, RuntimeError)
    assert [e.key for e in good] == ["a", "b"] and s.revision == 2


def test_a_hub_that_missed_revisions_compacts_instead_of_lying() -> None:
    hub = WatchHub()
    s = KVStore()
    fill(s)
    got: list[Event] = []
    w = hub.watch(None, got.extend)
    hub.publish(9, s.watch_hub.events_since(5))  # a gap: revisions 1..8 never seen
    assert w.closed and isinstance(w.error, Compacted) and hub.oldest_revision == 9
    assert [e.revision for e in hub.events_since(9)] == [5, 5]


def test_install_in_place_keeps_the_hub_limits_and_identity() -> None:
    leader = KVStore()
    fill(leader)
    node = KVStore(max_value_bytes=3, watch_hub=WatchHub(max_events=2))
    hub = node.watch_hub
    got: list[Event] = []
    hub.watch(6, got.extend)
    node.install(leader.snapshot())
    assert node.watch_hub is hub and node.revision == 5 and node.items() == leader.items()
    assert node.applied_index == leader.applied_index and hub.oldest_revision == 6
    c = Client(node, "n")
    assert c.do(Put("big", b"1234")).error is not None  # the node's own limit stays
    c.do(Put("k", b"1"))
    assert brief(got) == [("put", "k", b"1", 6)]
    before = node.snapshot()
    with pytest.raises(MalformedInput):
        node.install(b"garbage")
    assert node.snapshot() == before
