"""Every editing trace in shared/data/editing-traces replays exactly.

Sequential traces: one replica applies every patch; the result must be endContent,
and the encoded document must decode to the same text.

Concurrent traces: one replica per agent. Before a txn, its agent's replica pulls
from the other agents' op logs exactly what the txn's parents contain (so the
positions in the patches mean what they meant to the author), which the test checks
by comparing version vectors; afterwards every replica pulls everything, and every
one of them must read endContent. A late joiner that gets every delta of the session
in a shuffled order (so most wait for their dependencies) must read it too.

The data is found at <repo>/../shared/data (how CI lays it out) or at
$SENATE_DATA_DIR; a missing data directory fails the test, it does not skip it.
Traces: josephg/editing-traces, by Joseph Gentle, CC BY 4.0 (see the data README).
"""

from __future__ import annotations

import gzip
import json
import os
import random
from bisect import bisect_right
from pathlib import Path
from typing import Any

import pytest

from senate.crdt.text import Text, TextDelta


def _data_dir() -> Path:
    env = os.environ.get("SENATE_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


TRACES = _data_dir() / "editing-traces"
SEQUENTIAL = ["automerge-paper", "friendsforever_flat", "rustcode", "seph-blog1", "sveltecomponent"]
CONCURRENT = ["friendsforever", "clownschool"]


def _load(kind: str, name: str) -> dict[str, Any]:
    path = TRACES / kind / f"{name}.json.gz"
    assert path.is_file(), f"editing trace missing: {path} (set SENATE_DATA_DIR to the data dir)"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def test_every_trace_file_is_covered() -> None:
    assert TRACES.is_dir(), f"editing traces not found at {TRACES}"
    found = {p.name.removesuffix(".json.gz") for p in (TRACES / "sequential").glob("*.json.gz")}
    assert found == set(SEQUENTIAL)
    found = {p.name.removesuffix(".json.gz") for p in (TRACES / "concurrent").glob("*.json.gz")}
    assert found == set(CONCURRENT)


def _apply(doc: Text, patches: list[list[Any]]) -> list[TextDelta]:
    deltas = []
    for pos, n_del, ins in patches:
        if n_del:
            deltas.append(doc.delete(pos, n_del))
        if ins:
            deltas.append(doc.insert(pos, ins))
    return deltas


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_sequential_trace_replays_to_end_content(name: str) -> None:
    trace = _load("sequential", name)
    doc = Text("author")
    doc.insert(0, trace["startContent"])
    for txn in trace["txns"]:
        _apply(doc, txn["patches"])
    assert str(doc) == trace["endContent"]
    assert len(doc) == len(trace["endContent"])
    again = Text.decode(doc.encode())
    assert str(again) == trace["endContent"]
    assert again.canonical() == doc.canonical()


class _Log:
    """One agent's deltas in order, with the version entry each one ends at."""

    def __init__(self) -> None:
        self.ends: list[int] = []
        self.deltas: list[TextDelta] = []

    def add(self, end: int, delta: TextDelta) -> None:
        self.ends.append(end)
        self.deltas.append(delta)

    def between(self, have: int, want: int) -> list[TextDelta]:
        """The deltas taking an agent's entry from `have` up to `want`."""
        lo = bisect_right(self.ends, have)
        hi = bisect_right(self.ends, want)
        assert hi == len(self.ends) or self.ends[hi - 1] == want, "txn boundary expected"
        return self.deltas[lo:hi]


def _replay_concurrent(trace: dict[str, Any]) -> tuple[dict[str, Text], dict[str, _Log]]:
    agents = [f"agent{i}" for i in range(trace["numAgents"])]
    replicas = {a: Text(a) for a in agents}
    logs = {a: _Log() for a in agents}
    versions: list[dict[str, int]] = []
    for txn in trace["txns"]:
        want: dict[str, int] = {}
        for p in txn["parents"]:
            for a, c in versions[p].items():
                want[a] = max(want.get(a, 0), c)
        me = agents[txn["agent"]]
        doc = replicas[me]
        for a, c in want.items():
            have = doc.version.get(a)
            if have < c:
                for delta in logs[a].between(have, c):
                    doc.merge(delta)
        assert doc.version.to_dict() == want, "replica state must be exactly the parents"
        for delta in _apply(doc, txn["patches"]):
            logs[me].add(doc.version.get(me), delta)
        versions.append(doc.version.to_dict())
    return replicas, logs


@pytest.mark.parametrize("name", CONCURRENT)
def test_concurrent_trace_converges_to_end_content_on_every_replica(name: str) -> None:
    trace = _load("concurrent", name)
    replicas, logs = _replay_concurrent(trace)
    agents = list(replicas)
    first = replicas[agents[0]]
    for a in agents[1:]:  # whole-state merge one way ...
        first.merge(replicas[a])
    assert str(first) == trace["endContent"]
    for a in agents[1:]:  # ... and deltas since a version the other way
        doc = replicas[a]
        doc.merge(first.delta_since(doc.version))
        assert str(doc) == trace["endContent"], f"replica {a} diverged"
        assert doc.canonical() == first.canonical()
        assert doc.pending_count() == 0
    assert str(Text.decode(first.encode())) == trace["endContent"]

    # A late joiner gets every delta of the session once, in a shuffled order: most
    # arrive before their dependencies, wait, and are applied when those arrive.
    everything = [d for log in logs.values() for d in log.deltas]
    random.Random(7).shuffle(everything)
    late = Text("late")
    for d in everything:
        late.merge(d)
    assert late.pending_count() == 0
    assert str(late) == trace["endContent"]
    assert late.canonical() == first.canonical()
