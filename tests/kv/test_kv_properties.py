"""Property tests: determinism, snapshot round trips, a model check, garbage never crashes."""

from __future__ import annotations

import contextlib

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from senate.errors import MalformedInput
from senate.kv import Delete, KVStore, Put, Request, decode_request, encode_request

KEYS = ["a", "ab", "b", "b/1", "é"]
key = st.sampled_from(KEYS)
value = st.sampled_from([b"", b"1", b"2", b"xyz"])
prev_rev = st.none() | st.integers(0, 12)
prev_val = st.none() | value
op = st.builds(Put, key, value, prev_rev, prev_val) | st.builds(Delete, key, prev_rev, prev_val)
# Few clients and a small seq range, so duplicates and stale requests are common.
request = st.builds(Request, st.sampled_from(["c1", "c2", "c3"]), st.integers(1, 6), op)
# Some log entries are garbage or carry no command (skip).
entry = st.one_of(
    request.map(encode_request),
    request.map(encode_request),
    request.map(encode_request),
    st.binary(max_size=12),
    st.none(),
)
logs = st.lists(entry, max_size=40)


def run(entries: list[bytes | None], max_sessions: int = 2) -> KVStore:
    store = KVStore(max_sessions=max_sessions)
    for index, data in enumerate(entries, start=1):
        if data is None:
            store.skip(index)
        else:
            store.apply(index, data)
    return store


@given(logs)
def test_same_log_gives_identical_snapshots(entries: list[bytes | None]) -> None:
    assert run(entries).snapshot() == run(entries).snapshot()


@given(logs)
def test_snapshot_restore_round_trip(entries: list[bytes | None]) -> None:
    store = run(entries)
    snap = store.snapshot()
    restored = KVStore.restore(snap, max_sessions=2)
    assert restored.snapshot() == snap
    assert restored.items() == store.items()
    assert restored.revision == store.revision
    assert restored.applied_index == store.applied_index


@given(logs, logs)
def test_restored_store_continues_exactly_like_the_original(
    head: list[bytes | None], tail: list[bytes | None]
) -> None:
    original = run(head)
    restored = KVStore.restore(original.snapshot(), max_sessions=2)
    for offset, data in enumerate(tail, start=original.applied_index + 1):
        if data is None:
            original.skip(offset)
            restored.skip(offset)
        else:
            assert original.apply(offset, data) == restored.apply(offset, data)
    assert original.snapshot() == restored.snapshot()


@settings(max_examples=200)
@given(st.lists(op, max_size=40))
def test_matches_a_dict_model(ops: list[Put | Delete]) -> None:
    """With a fresh seq each time (no retries), the store behaves like a plain dict."""
    store = KVStore()
    model: dict[str, tuple[bytes, int]] = {}  # key -> (value, mod_revision)
    revision = 0
    for seq, o in enumerate(ops, start=1):
        cur = model.get(o.key)
        ok = (
            o.prev_revision is None
            or (o.prev_revision == 0 and cur is None)
            or (cur is not None and cur[1] == o.prev_revision)
        ) and (o.prev_value is None or (cur is not None and cur[0] == o.prev_value))
        result = store.apply(seq, encode_request(Request("c", seq, o)))
        assert result.succeeded == ok and result.error is None
        if ok and isinstance(o, Put):
            revision += 1
            model[o.key] = (o.value, revision)
        elif ok and cur is not None:
            revision += 1
            del model[o.key]
        assert result.revision == revision == store.revision
        assert result.deleted == (ok and isinstance(o, Delete) and cur is not None)
    assert [(kv.key, kv.value, kv.mod_revision) for kv in store.range("")] == [
        (k, v, r) for k, (v, r) in sorted(model.items())
    ]
    assert [kv.key for kv in store.range("a")] == sorted(k for k in model if k.startswith("a"))


@given(st.binary(max_size=300))
def test_garbage_never_crashes_apply_or_restore(data: bytes) -> None:
    store = KVStore()
    result = store.apply(1, data)
    assert store.applied_index == 1
    if result.error is None:
        decode_request(data)  # only a valid command may apply
    else:
        assert store.revision == 0 and store.range("") == [] and len(store.sessions) == 0
    with contextlib.suppress(MalformedInput):
        KVStore.restore(data)


@given(logs, st.data())
def test_mutated_snapshots_restore_or_raise_malformed(
    entries: list[bytes | None], data: st.DataObject
) -> None:
    snap = bytearray(run(entries).snapshot())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(snap) - 1))
        snap[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(snap)))
    try:
        restored = KVStore.restore(bytes(snap[:cut]))
    except MalformedInput:
        return
    # Whatever restored is a consistent store: it snapshots and restores again.
    assert KVStore.restore(restored.snapshot()).snapshot() == restored.snapshot()


@given(
    st.lists(
        st.none()
        | st.integers(-3, 3)
        | st.text(max_size=3)
        | st.binary(max_size=3)
        | st.booleans(),
        min_size=6,
        max_size=6,
    )
)
def test_structurally_wrong_snapshots_raise_malformed(fields: list[object]) -> None:
    with contextlib.suppress(MalformedInput):
        KVStore.restore(msgpack.packb(fields, use_bin_type=True))


def test_restore_rejects_broken_invariants() -> None:
    def snap(items: list[object], sessions: list[object] | None = None) -> bytes:
        fields = ["senate-kv", 1, 5, 5, items, sessions or []]
        packed: bytes = msgpack.packb(fields, use_bin_type=True)
        return packed

    good_result = [1, True, None, False, None]
    assert KVStore.restore(snap([["a", b"1", 1, 1, 1]], [["c", 1, 1, good_result]])).revision == 5
    bad = [
        snap([["b", b"1", 1, 1, 1], ["a", b"1", 2, 2, 1]]),  # unsorted
        snap([["a", b"1", 1, 1, 1], ["a", b"1", 2, 2, 1]]),  # duplicate
        snap([["a", b"1", 3, 2, 1]]),  # mod before create
        snap([["a", b"1", 1, 9, 1]]),  # mod after revision
        snap([["a", b"1", 1, 1, 0]]),  # version 0
        snap([["a\x00", b"1", 1, 1, 1]]),  # bad key
        snap([], [["c", 1, 9, good_result]]),  # session after applied index
        snap([], [["c", 1, 1, good_result], ["c", 2, 2, good_result]]),  # duplicate client
        snap([], [["c", 1, 1, good_result], ["d", 2, 1, good_result]]),  # shared index
        snap([], [["c", 1, 1, [9, True, None, False, None]]]),  # result from the future
        msgpack.packb(["senate-kv", 2, 0, 0, [], []]),  # unknown format
        msgpack.packb(["other", 1, 0, 0, [], []]),
    ]
    for data in bad:
        try:
            KVStore.restore(data)
        except MalformedInput:
            continue
        raise AssertionError(f"restore accepted {data!r}")
