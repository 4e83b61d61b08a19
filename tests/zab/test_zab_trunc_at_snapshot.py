"""A TRUNC that cuts a follower's history right at its snapshot reaches the disk.

The driver's log drops a suffix only when an entry is written over it, and the
entry at a snapshot's index is gone from memory, so it cannot be written again.
A follower whose only stale proposals lay just past its snapshot, synced by a
leader with nothing after that point, used to ack NEWLEADER with the cut only in
memory: a crash then brought the dead proposals back. Every new leader now opens
its epoch with a NOOP proposal, so a SYNC always carries an entry after any
point it truncates to, and the cut is on disk before the ack leaves.
"""

from __future__ import annotations

import msgpack
from zab_harness import Cluster, Disk, history

from senate.consensus.types import Entry, EntryKind, HardState, Membership, Role, Snapshot
from senate.zab.messages import MessageType, SyncMode

MEMBERS = Membership(frozenset({"a", "b", "c"}))


def test_a_trunc_down_to_the_snapshot_survives_a_crash() -> None:
    # c led epoch 1, wrote proposals 3 and 4 that nobody else got, then compacted
    # to 2 (the committed prefix); a and b hold 1..2.
    snap = Snapshot(2, 1, MEMBERS, msgpack.packb([b"1/1", b"2/1"]))
    stale = [Entry(3, 1, EntryKind.NORMAL, b"dead-3"), Entry(4, 1, EntryKind.NORMAL, b"dead-4")]
    disks = {
        "a": Disk(HardState(1, "1/c", 2), None, history(1, 1)),
        "b": Disk(HardState(1, "1/c", 2), None, history(1, 1)),
        "c": Disk(HardState(1, "1/c", 2), snap, stale),
    }
    c = Cluster(["a", "b", "c"], disks=disks)
    c.isolate("c")  # c's history would win an election: a and b choose without it
    leader = c.elect()
    c.heal()
    for _ in range(100):
        c.tick()
        st = c.engines["c"].status()
        if st.leader == leader and st.role == Role.FOLLOWER:
            break
    assert c.engines["c"].status().leader == leader, "c never synced with the new leader"
    syncs = [m for m in c.sent(MessageType.SYNC) if m.dst == "c"]
    assert syncs and syncs[-1].mode == SyncMode.TRUNC and syncs[-1].index == 2
    c.crash("c")
    c.restart("c")
    back = [(e.index, e.data) for e in c.engines["c"].log.entries]
    assert (3, b"dead-3") not in back and (4, b"dead-4") not in back, back
