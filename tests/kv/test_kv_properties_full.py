"""Property tests over every command (txns and leases too): determinism, snapshots, a model."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from senate.errors import MalformedInput
from senate.kv import (
    Command,
    Compare,
    CompareOp,
    CompareTarget,
    Delete,
    Event,
    Get,
    KVStore,
    LeaseGrant,
    LeaseRevoke,
    Put,
    Request,
    Txn,
    TxnResult,
    decode_request,
    encode_request,
)

KEYS = ["a", "ab", "b", "b/1", "é"]
LEASES = [1, 2, 3]
key = st.sampled_from(KEYS)
value = st.sampled_from([b"", b"1", b"2", b"xyz"])
lease = st.sampled_from([0, 0, *LEASES])
compare = st.one_of(
    st.builds(Compare, key, st.just(CompareTarget.VALUE), st.sampled_from(list(CompareOp)), value),
    st.builds(
        Compare,
        key,
        st.sampled_from(
            [CompareTarget.REVISION, CompareTarget.CREATE_REVISION, CompareTarget.VERSION]
        ),
        st.sampled_from(list(CompareOp)),
        st.integers(0, 8),
    ),
)
txn_op = st.one_of(
    st.builds(Put, key, value, lease=lease), st.builds(Delete, key), st.builds(Get, key)
)


def _unique_writes(ops: list[Put | Delete | Get]) -> tuple[Put | Delete | Get, ...]:
    seen: set[str] = set()
    out: list[Put | Delete | Get] = []
    for op in ops:
        if isinstance(op, Put | Delete):
            if op.key in seen:
                continue
            seen.add(op.key)
        out.append(op)
    return tuple(out)


branch = st.lists(txn_op, max_size=4).map(_unique_writes)
txn = st.builds(Txn, st.lists(compare, max_size=2).map(tuple), branch, branch)
single = st.one_of(
    st.builds(Put, key, value, st.none() | st.integers(0, 8), st.none() | value, lease),
    st.builds(Delete, key, st.none() | st.integers(0, 8), st.none() | value),
)
lease_cmd = st.one_of(
    st.builds(LeaseGrant, st.sampled_from(LEASES), st.integers(1, 5000)),
    st.builds(LeaseRevoke, st.sampled_from(LEASES)),
)
command: st.SearchStrategy[Command] = st.one_of(single, single, txn, txn, lease_cmd)
request = st.builds(Request, st.sampled_from(["c1", "c2", "c3"]), st.integers(1, 6), command)
entry = st.one_of(
    request.map(encode_request),
    request.map(encode_request),
    request.map(encode_request),
    st.binary(max_size=12),
    st.none(),
)
logs = st.lists(entry, max_size=40)


def feed(store: KVStore, entries: list[bytes | None], start: int = 1) -> list[object]:
    out: list[object] = []
    for index, data in enumerate(entries, start=start):
        if data is None:
            store.skip(index)
        else:
            out.append(store.apply(index, data))
    return out


def events(store: KVStore, since: int) -> list[Event]:
    return store.watch_hub.events_since(since)


@given(logs)
def test_two_stores_fed_the_same_log_agree(entries: list[bytes | None]) -> None:
    one, two = KVStore(max_sessions=2), KVStore(max_sessions=2)
    assert feed(one, entries) == feed(two, entries)
    assert one.snapshot() == two.snapshot()
    assert events(one, 1) == events(two, 1)


@given(logs, logs)
def test_restore_mid_log_then_continue_equals_never_stopping(
    head: list[bytes | None], tail: list[bytes | None]
) -> None:
    original = KVStore(max_sessions=2)
    feed(original, head)
    snap = original.snapshot()
    restored = KVStore.restore(snap, max_sessions=2)
    assert restored.snapshot() == snap
    assert list(restored.leases) == list(original.leases)
    start = original.applied_index + 1
    assert feed(original, tail, start) == feed(restored, tail, start)
    assert original.snapshot() == restored.snapshot()
    assert list(restored.leases) == list(original.leases)
    assert events(original, restored.watch_hub.oldest_revision) == events(
        restored, restored.watch_hub.oldest_revision
    )


@given(st.builds(Request, st.text(min_size=1, max_size=8), st.integers(1, 2**63 - 1), command))
def test_every_command_round_trips(req: Request) -> None:
    assert decode_request(encode_request(req)) == req


@given(st.binary(max_size=300))
def test_garbage_never_crashes(data: bytes) -> None:
    store = KVStore()
    result = store.apply(1, data)
    assert store.applied_index == 1
    if result.error is not None:
        assert store.revision == 0 and len(store.sessions) == 0 and len(store.leases) == 0
    with contextlib.suppress(MalformedInput):
        KVStore.restore(data)


leaf = st.none() | st.booleans() | st.integers(-2, 6) | st.text(max_size=3) | st.binary(max_size=3)
shape = st.recursive(leaf, lambda inner: st.lists(inner, max_size=5), max_leaves=16)


@given(st.integers(0, 6), st.lists(shape, max_size=5))
def test_structured_garbage_with_every_op_code(code: int, rest: list[object]) -> None:
    data = msgpack.packb(["c", 1, [code, *rest]], use_bin_type=True)
    with contextlib.suppress(MalformedInput):
        decode_request(data)
    KVStore().apply(1, data)


@given(st.lists(shape, min_size=7, max_size=7))
def test_structurally_wrong_format_2_snapshots_raise_malformed(fields: list[object]) -> None:
    fields[0:2] = ["senate-kv", 2]
    with contextlib.suppress(MalformedInput):
        KVStore.restore(msgpack.packb(fields, use_bin_type=True))


@given(logs, st.data())
def test_mutated_snapshots_restore_or_raise_malformed(
    entries: list[bytes | None], data: st.DataObject
) -> None:
    store = KVStore()
    feed(store, entries)
    snap = bytearray(store.snapshot())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(snap) - 1))
        snap[pos] = data.draw(st.integers(0, 255))
    try:
        restored = KVStore.restore(bytes(snap))
    except MalformedInput:
        return
    assert KVStore.restore(restored.snapshot()).snapshot() == restored.snapshot()


# -- a model: the store against a plain-dict reimplementation of etcd's rules --


@dataclass
class Model:
    data: dict[str, tuple[bytes, int, int, int, int]] = field(default_factory=dict)
    leases: dict[int, int] = field(default_factory=dict)
    revision: int = 0

    def holds(self, c: Compare) -> bool:
        cur = self.data.get(c.key)
        if c.target == CompareTarget.VALUE:
            if cur is None:
                return False
            actual: bytes | int = cur[0]
        else:
            index = {"revision": 2, "create_revision": 1, "version": 3}[c.target.value]
            actual = 0 if cur is None else cur[index]
        ops = {"==": actual == c.value, "!=": actual != c.value}
        if c.op.value in ops:
            return ops[c.op.value]
        less = actual < c.value  # type: ignore[operator]
        return less if c.op == CompareOp.LT else (not less and actual != c.value)

    def put(self, k: str, v: bytes, lease_id: int, rev: int) -> None:
        cur = self.data.get(k)
        create, version = (rev, 1) if cur is None else (cur[1], cur[3] + 1)
        self.data[k] = (v, create, rev, version, lease_id)

    def step(self, op: Command) -> None:
        rev = self.revision + 1
        if isinstance(op, LeaseGrant):
            self.leases.setdefault(op.lease_id, op.ttl_ms)
        elif isinstance(op, LeaseRevoke):
            if self.leases.pop(op.lease_id, None) is not None:
                doomed = [k for k, v in self.data.items() if v[4] == op.lease_id]
                for k in doomed:
                    del self.data[k]
                self.revision += bool(doomed)
        elif isinstance(op, Put):
            if op.lease and op.lease not in self.leases:
                return
            cur = self.data.get(op.key)
            ok = (
                op.prev_revision is None
                or (op.prev_revision == 0 and cur is None)
                or (cur is not None and cur[2] == op.prev_revision)
            ) and (op.prev_value is None or (cur is not None and cur[0] == op.prev_value))
            if ok:
                self.put(op.key, op.value, op.lease, rev)
                self.revision = rev
        elif isinstance(op, Delete):
            cur = self.data.get(op.key)
            ok = (
                op.prev_revision is None
                or (op.prev_revision == 0 and cur is None)
                or (cur is not None and cur[2] == op.prev_revision)
            ) and (op.prev_value is None or (cur is not None and cur[0] == op.prev_value))
            if ok and cur is not None:
                del self.data[op.key]
                self.revision = rev
        else:
            chosen = op.success if all(self.holds(c) for c in op.compares) else op.failure
            if any(isinstance(o, Put) and o.lease and o.lease not in self.leases for o in chosen):
                return
            changed = False
            for o in chosen:
                if isinstance(o, Put):
                    self.put(o.key, o.value, o.lease, rev)
                    changed = True
                elif isinstance(o, Delete) and o.key in self.data:
                    del self.data[o.key]
                    changed = True
            self.revision += changed


@settings(max_examples=300)
@given(st.lists(command, max_size=40))
def test_matches_a_model(ops: list[Command]) -> None:
    store = KVStore()
    model = Model()
    for seq, op in enumerate(ops, start=1):
        result = store.apply(seq, encode_request(Request("c", seq, op)))
        if isinstance(op, Txn) and result.error is None:
            assert isinstance(result, TxnResult)
            assert result.succeeded == all(model.holds(c) for c in op.compares)
        model.step(op)
        assert store.revision == model.revision == result.revision
    assert {
        kv.key: (kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease)
        for kv in store.items()
    } == model.data
    assert {lease.lease_id: lease.ttl_ms for lease in store.leases} == model.leases
    for lease in store.leases:
        assert lease.keys == tuple(
            sorted(k for k, v in model.data.items() if v[4] == lease.lease_id)
        )
