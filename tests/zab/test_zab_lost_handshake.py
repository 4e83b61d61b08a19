"""A follower whose handshake reply is lost still gets synced.

Seen on real processes under 10% message loss: a rejoining follower's ACKEPOCH
was lost. The leader kept the session open and pinged it, the PINGs arrived in
order (no gap, so the follower never registered again), and each side waited for
the other for good: the leader for the ACKEPOCH, the follower for SYNC. PING now
says whether the leader counts the follower synced; if not, the follower repeats
its last handshake reply (ACKEPOCH, or the ACK of NEWLEADER).
"""

from __future__ import annotations

import pytest
from zab_harness import Cluster

from senate.consensus.types import Role
from senate.zab.messages import MessageType, ZabMessage


@pytest.mark.parametrize("lost", [MessageType.ACKEPOCH, MessageType.ACK])
def test_a_follower_whose_handshake_reply_was_lost_is_synced_by_the_next_ping(
    lost: MessageType,
) -> None:
    c = Cluster(["a", "b", "c"])
    c.isolate("c")
    leader = c.elect()
    c.propose(leader, b"x", b"y")
    dropped: list[ZabMessage] = []

    def drop_first(m: ZabMessage) -> ZabMessage | None:
        if m.src == "c" and m.type == lost and not dropped and (lost != MessageType.ACK or m.flag):
            dropped.append(m)
            return None
        return m

    c.rewrite = drop_first
    c.heal()
    c.tick(40)
    assert dropped, f"the test never saw c's {lost.name}"
    st = c.engines["c"].status()
    assert st.role == Role.FOLLOWER and st.leader == leader
    assert c.engines[leader].sessions["c"].synced, "the leader never counted c synced"
    assert c.log_of("c") == c.log_of(leader)
    # The same session: c did not need to register again.
    infos = [m for m in c.delivered if m.type == MessageType.FOLLOWERINFO and m.src == "c"]
    assert len(infos) == 1
