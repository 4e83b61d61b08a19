"""The run-based, region-scanning FugueMax of fugue.py equals the textbook algorithm.

The oracle below is the list-based FugueMax ("YjsMod" in Gentle's reference-crdts)
written the slow obvious way: one item per character, positions found by a linear
search, origins compared by index. Random editing sessions among three replicas
produce ops (in creation order, which is a causal order); the oracle integrates
them one character at a time and must read exactly what every converged Text reads.
This checks the optimizations (runs as units, splits, "after L iff in the region",
tombstone rejoining) against the algorithm they implement.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from senate.crdt.text import Text, TextDelta, runs, seqindex

CharId = tuple[str, int]


@dataclass
class Item:
    id: CharId
    char: str
    left: CharId | None
    right: CharId | None
    deleted: bool = False


class Oracle:
    def __init__(self) -> None:
        self.items: list[Item] = []

    def index(self, cid: CharId | None, default: int) -> int:
        if cid is None:
            return default
        for i, it in enumerate(self.items):
            if it.id == cid:
                return i
        raise KeyError(cid)

    def integrate(self, new: Item) -> None:
        items = self.items
        left = self.index(new.left, -1)
        right = self.index(new.right, len(items))
        dest = i = left + 1
        scanning = False
        while True:
            if not scanning:
                dest = i
            if i == len(items) or i == right:
                break
            o = items[i]
            oleft = self.index(o.left, -1)
            oright = self.index(o.right, len(items))
            if oleft < left:
                break
            if oleft == left:
                if oright < right:
                    scanning = True
                elif oright == right:
                    if new.id[0] < o.id[0]:
                        break
                    scanning = False
                else:
                    scanning = False
            i += 1
        items.insert(dest, new)

    def apply(self, delta: TextDelta) -> None:
        for run in delta.inserts:
            left = run.left
            for k, ch in enumerate(run.text):
                cid = (run.agent, run.seq + k)
                self.integrate(Item(cid, ch, left, run.right))
                left = cid
        for d in delta.deletes:
            for agent, seq, n in d.targets:
                for it in self.items:
                    if it.id[0] == agent and seq <= it.id[1] < seq + n:
                        it.deleted = True

    def __str__(self) -> str:
        return "".join(it.char for it in self.items if not it.deleted)


REPLICAS = ["a", "b", "c"]
action = st.one_of(
    st.tuples(st.just("ins"), st.sampled_from(REPLICAS), st.floats(0, 1),
              st.text("xyzw", min_size=1, max_size=3)),
    st.tuples(st.just("del"), st.sampled_from(REPLICAS), st.floats(0, 1), st.integers(1, 3)),
    st.tuples(st.just("sync"), st.sampled_from(REPLICAS), st.sampled_from(REPLICAS),
              st.just(0)),
)


@contextmanager
def tiny_blocks(on: bool) -> Iterator[None]:
    """Blocks of 2 runs and index chunks of 1-2 entries, so that the small sessions
    below cross block and chunk boundaries on almost every operation."""
    saved = runs.BLOCK_MAX, seqindex.CHUNK
    if on:
        runs.BLOCK_MAX, seqindex.CHUNK = 2, 1
    try:
        yield
    finally:
        runs.BLOCK_MAX, seqindex.CHUNK = saved


@settings(max_examples=300, deadline=None)
@given(st.lists(action, max_size=40), st.booleans())
def test_run_based_fugue_matches_the_per_character_algorithm(
    actions: list[tuple[str, str, object, object]], small: bool
) -> None:
    with tiny_blocks(small):
        check_against_oracle(actions)


def check_against_oracle(actions: list[tuple[str, str, object, object]]) -> None:
    reps = {r: Text(r) for r in REPLICAS}
    created: list[TextDelta] = []
    for kind, r, x, y in actions:
        doc = reps[r]
        before = str(doc)
        if kind == "ins":
            assert isinstance(x, float) and isinstance(y, str)
            pos = round(x * len(doc))
            created.append(doc.insert(pos, y))
            assert str(doc) == before[:pos] + y + before[pos:]  # the edit lands where asked
        elif kind == "del" and len(doc):
            assert isinstance(x, float) and isinstance(y, int)
            pos = min(round(x * len(doc)), len(doc) - 1)
            n = min(y, len(doc) - pos)
            created.append(doc.delete(pos, n))
            assert str(doc) == before[:pos] + before[pos + n :]
        elif kind == "sync":
            assert isinstance(x, str)
            doc.merge(reps[x].delta_since(doc.version))
    oracle = Oracle()
    for delta in created:
        oracle.apply(delta)
    for doc in reps.values():
        for other in reps.values():
            doc.merge(other)
        assert str(doc) == str(oracle)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("small", [True, False])
def test_long_random_sessions_edit_where_asked_and_match_the_oracle(
    seed: int, small: bool
) -> None:
    # Longer than hypothesis sessions: many runs, many blocks, remote ops landing
    # before and after the local cursor between local edits.
    rnd = random.Random(seed)
    actions: list[tuple[str, str, object, object]] = []
    for _ in range(400):
        r = rnd.choice(REPLICAS)
        roll = rnd.random()
        if roll < 0.55:
            actions.append(("ins", r, rnd.random(), rnd.choice(["x", "yz", "wxyz"])))
        elif roll < 0.85:
            actions.append(("del", r, rnd.random(), rnd.randint(1, 3)))
        else:
            actions.append(("sync", r, rnd.choice(REPLICAS), 0))
    with tiny_blocks(small):
        check_against_oracle(actions)
