"""Randomized runs on the tiny harness: drops, duplicates, reordering, partitions,
crashes, compaction and membership steps; safety checked all along, liveness after heal.

This is a fast second line next to the simulator (which owns the heavy sweeps)."""

from __future__ import annotations

import contextlib
import random

import pytest
from raft_harness import Cluster

from senate.consensus.types import ConfChange, ConfChangeOp, Entry, Membership, Role
from senate.errors import ConsensusError
from senate.raft import Raft, RaftConfig
from senate.raft import mutants as mu
from senate.raft.messages import RaftMessage


class Checker:
    def __init__(self, c: Cluster) -> None:
        self.c = c
        self.leader_of_term: dict[int, str] = {}
        self.chosen: dict[int, Entry] = {}
        self.seen: dict[str, int] = {n: 0 for n in c.engines}

        self.read_floor: dict[bytes, int] = {}
        self.reads_seen: dict[str, int] = {n: 0 for n in c.engines}
        self.reads_ok = 0

    def read(self, nid: str, ctx: bytes) -> None:
        """A read starting now must see every entry committed anywhere before it."""
        floor = max(e.log.committed for e in self.c.engines.values())
        with contextlib.suppress(ConsensusError):
            self.c.engines[nid].read_index(ctx)
            self.read_floor[ctx] = floor

    def check(self) -> None:
        for nid, states in self.c.reads.items():
            for rs in states[self.reads_seen.get(nid, 0) :]:
                assert rs.index >= self.read_floor[rs.ctx], f"stale read {rs} at {nid}"
                self.reads_ok += 1
            self.reads_seen[nid] = len(states)
        for nid, e in self.c.engines.items():
            if nid in self.c.down or e.role != Role.LEADER:
                continue
            assert self.leader_of_term.setdefault(e.term, nid) == nid, f"two leaders in {e.term}"
        for nid, applied in self.c.applied.items():
            for entry in applied[self.seen.get(nid, 0) :]:
                first = self.chosen.setdefault(entry.index, entry)
                assert first == entry, f"{nid} applied {entry} where {first} was chosen"
            self.seen[nid] = len(applied)


def _random_run(seed: int, steps: int = 400, cls: type[Raft] = Raft) -> None:
    rng = random.Random(seed)
    cfg = RaftConfig(max_msg_entries=rng.choice([1, 3, 64]), max_inflight=rng.choice([1, 4]))
    ids = ["a", "b", "c", "d", "e"][: rng.choice([3, 5])]
    c = Cluster(ids, config=cfg, seed=seed, maker=lambda n, m, d, r: cls(n, m, d, r, cfg))
    chk = Checker(c)
    queue_rng = random.Random(seed + 1)

    def chaos(m: RaftMessage) -> RaftMessage | None:
        r = queue_rng.random()
        if r < 0.08:
            return None
        if r < 0.12:
            c.queue.append(m)  # duplicate, delivered again later
        return m

    c.rewrite = chaos
    c.crash_at_sync = 0.03
    value = 0
    for _ in range(steps):
        action = rng.random()
        live = [n for n in c.engines if n not in c.down]
        if action < 0.45:
            c.tick(1)
        elif action < 0.75:
            for n in live:
                if c.engines[n].role == Role.LEADER:
                    value += 1
                    with contextlib.suppress(ConsensusError):
                        c.engines[n].propose(b"%d" % value)
            # reorder: rotate the queue a little before delivering
            c.queue.rotate(rng.randrange(len(c.queue) + 1))
            c.stabilize()
        elif action < 0.78:
            chk.read(rng.choice(live), b"r%d" % rng.randrange(1 << 30))
            c.stabilize()
        elif action < 0.81 and len(c.down) == 0:
            victim = rng.choice(live)
            c.crash(victim)
        elif action < 0.88 and c.down:
            c.start(next(iter(c.down)))
        elif action < 0.92:
            c.heal()
            c.partition(set(rng.sample(list(c.engines), len(c.engines) // 2)))
        elif action < 0.95:
            c.heal()
        elif action < 0.98:
            n = rng.choice(live)
            if c.engines[n].log.applied > c.engines[n].log.offset:
                c.compact(n)
        else:
            for n in live:
                eng = c.engines[n]
                if eng.role == Role.LEADER:
                    target = rng.choice(sorted(eng.membership.voters))
                    with contextlib.suppress(ConsensusError):
                        eng.transfer_leadership(target)
        chk.check()
    # Heal everything; the cluster must converge.
    c.rewrite = lambda m: m
    c.crash_at_sync = 0.0
    c.heal()
    for n in list(c.down):
        c.start(n)
    for _ in range(200):
        c.tick(1)
        chk.check()
        leaders = c.leaders()
        if len(leaders) == 1 and c.engines[leaders[0]].lead_transferee is None:
            break
    leader = c.leader()
    c.propose(leader, b"final")
    # A lost snapshot is re-sent after an election timeout, so allow a few.
    for _ in range(50):
        c.tick(1)
        chk.check()
        if all(c.commands(n) == c.commands(leader) for n in c.engines):
            break
    final = c.commands(leader)
    assert final[-1] == b"final"
    for n in c.engines:
        assert c.commands(n) == final, n


@pytest.mark.parametrize("seed", range(24))
def test_random_faults_keep_safety_and_heal_to_agreement(seed: int) -> None:
    _random_run(seed)


def test_membership_steps_under_faults() -> None:
    c = Cluster(["a", "b", "c"], seed=5)
    chk = Checker(c)
    leader = c.elect_any()
    c.add_node("d", Membership(frozenset("abc"), frozenset("d")))
    steps = [
        ConfChange(ConfChangeOp.ADD_LEARNER, "d"),
        ConfChange(ConfChangeOp.PROMOTE, "d"),
        ConfChange(ConfChangeOp.REMOVE, "a"),
    ]
    for cc in steps:
        for _ in range(100):
            leader = c.leaders()[0] if len(c.leaders()) == 1 else leader
            try:
                c.engines[leader].propose_membership(cc)
                break
            except ConsensusError:
                c.tick(1)
                chk.check()
        c.tick(3)
        chk.check()
    c.tick(40)
    chk.check()
    assert c.leaders() and c.leader() in {"b", "c", "d"}
    for n in "bcd":
        assert c.engines[n].membership.voters == {"b", "c", "d"}


@pytest.mark.parametrize(
    "mutant",
    [mu.NoUpToDateCheck, mu.ApplyBeforeCommit, mu.NoTruncateOnConflict, mu.AckInSendNow],
    ids=lambda cls: cls.__name__,
)
def test_the_random_runs_have_teeth(mutant: type[Raft]) -> None:
    for seed in range(8):
        try:
            _random_run(seed, cls=mutant)
        except AssertionError:
            return
    pytest.fail(f"{mutant.__name__} survived every seed")
