"""Raft's own messages over the real transport, as the runtime wires it up."""

from __future__ import annotations

import asyncio
import contextlib
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from senate.consensus.types import Entry, EntryKind, Membership, Message, Snapshot
from senate.errors import MalformedInput
from senate.raft.messages import MessageType, RaftMessage, message_from_wire
from senate.runtime.transport import Transport, TransportConfig
from senate.wire.codec import Codec
from senate.wire.frame import FrameDecoder, encode_frame

CODEC = Codec()
CODEC.register("raft", message_from_wire)

APP = RaftMessage(
    MessageType.APP,
    "n1",
    "n2",
    term=3,
    log_term=2,
    index=10,
    commit=9,
    entries=(
        Entry(11, 3, EntryKind.NORMAL, b"put k v"),
        Entry(12, 3, EntryKind.NOOP),
    ),
)
SNAP = RaftMessage(
    MessageType.SNAP,
    "n1",
    "n2",
    term=3,
    snapshot=Snapshot(100, 3, Membership(frozenset({"n1", "n2", "n3"})), b"s" * 300_000),
)
SMALL_SNAP = RaftMessage(
    MessageType.SNAP,
    "n1",
    "n2",
    term=1,
    snapshot=Snapshot(5, 1, Membership(frozenset({"n1"})), b"s"),
)
RESP = RaftMessage(MessageType.APP_RESP, "n2", "n1", term=3, index=12, reject=True, reject_hint=7)


def test_raft_messages_round_trip_through_frames() -> None:
    stream = b"".join(encode_frame(CODEC.encode_message("raft", m)) for m in (APP, SNAP, RESP))
    decoder = FrameDecoder()
    got = [
        CODEC.decode_message(o)
        for i in range(0, len(stream), 4096)
        for o in decoder.feed(stream[i : i + 4096])
    ]
    assert got == [APP, SNAP, RESP]


def test_raft_messages_cross_the_real_transport() -> None:
    async def main() -> None:
        inbox: dict[str, list[Message]] = {"n1": [], "n2": []}
        config = TransportConfig(cluster_id="raft-test", backoff_initial=0.01, backoff_max=0.1)
        ts = {
            i: Transport(
                i,
                ("127.0.0.1", 0),
                {},
                inbox[i].append,
                kind="raft",
                codec=CODEC,
                config=config,
                rng=random.Random(i),
            )
            for i in inbox
        }
        try:
            for t in ts.values():
                await t.start()
            addrs = {i: t.address for i, t in ts.items() if t.address is not None}
            for t in ts.values():
                t.update_peers(addrs)
            ts["n1"].send(APP)
            ts["n1"].send(SNAP)
            ts["n2"].send(RESP)
            async with asyncio.timeout(5):
                while len(inbox["n2"]) < 2 or not inbox["n1"]:
                    await asyncio.sleep(0.01)
            assert inbox["n2"] == [APP, SNAP] and inbox["n1"] == [RESP]
        finally:
            await asyncio.gather(*(t.close() for t in ts.values()))

    asyncio.run(main())


raw = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-1, 2**64 - 1)
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=14),
    max_leaves=16,
)


@settings(max_examples=150, deadline=None)
@given(raw, st.data())
def test_raft_envelopes_from_hostile_peers_only_raise_malformed_input(
    obj: object, data: st.DataObject
) -> None:
    # Start from a valid wire list and corrupt one field, so decoding gets deep.
    base = APP.to_wire() if data.draw(st.booleans()) else SMALL_SNAP.to_wire()
    base[data.draw(st.integers(0, len(base) - 1))] = obj
    for candidate in (["raft", obj], ["raft", base]):
        with contextlib.suppress(MalformedInput):
            msg = CODEC.decode_message(candidate)
            assert isinstance(msg, RaftMessage)


def test_a_70_mib_install_snapshot_crosses_the_real_transport() -> None:
    """The liveness bug: a snapshot over the 64 MiB frame limit was dropped on send.
    The same KV state as the reviewer's repro (70 keys of 1 MiB)."""
    from senate.kv import KVStore, Put, Request, encode_request

    kv = KVStore()
    value = b"v" * (1 << 20)
    for i in range(70):
        kv.apply(i + 1, encode_request(Request("c", i + 1, Put(f"k{i}", value))))
    data = kv.snapshot()
    assert len(data) > 64 * 1024 * 1024
    big = RaftMessage(
        MessageType.SNAP,
        "n1",
        "n2",
        term=3,
        snapshot=Snapshot(70, 3, Membership(frozenset({"n1", "n2", "n3"})), data),
    )

    async def main() -> None:
        inbox: dict[str, list[Message]] = {"n1": [], "n2": []}
        config = TransportConfig(cluster_id="raft-test", backoff_initial=0.01, backoff_max=0.1)
        ts = {
            i: Transport(
                i,
                ("127.0.0.1", 0),
                {},
                inbox[i].append,
                kind="raft",
                codec=CODEC,
                config=config,
                rng=random.Random(i),
            )
            for i in inbox
        }
        try:
            for t in ts.values():
                await t.start()
            addrs = {i: t.address for i, t in ts.items() if t.address is not None}
            for t in ts.values():
                t.update_peers(addrs)
            ts["n1"].send(big)
            ts["n1"].send(APP)  # a heartbeat-sized message right behind it
            async with asyncio.timeout(30):
                while len(inbox["n2"]) < 2:
                    await asyncio.sleep(0.01)
            assert inbox["n2"] == [big, APP]
            assert ts["n1"].counters().encode_errors == 0
        finally:
            await asyncio.gather(*(t.close() for t in ts.values()))

    asyncio.run(main())
