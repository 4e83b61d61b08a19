"""Done-means 5: the same seed twice gives the same trace (and seeds differ)."""

from __future__ import annotations

import io

from senate.sim import SimConfig, run_simulation


def test_same_seed_gives_identical_trace_history_and_summary() -> None:
    a_trace, b_trace = io.StringIO(), io.StringIO()
    a = run_simulation(SimConfig(seed=11, trace=a_trace))
    b = run_simulation(SimConfig(seed=11, trace=b_trace))
    assert a.trace_hash == b.trace_hash
    assert a_trace.getvalue() == b_trace.getvalue()
    assert a.history == b.history
    assert (a.ops, a.faults, a.leaders_elected, a.entries_committed) == (
        b.ops,
        b.faults,
        b.leaders_elected,
        b.entries_committed,
    )
    assert a.events > 100


def test_different_seeds_give_different_traces() -> None:
    hashes = {run_simulation(SimConfig(seed=s)).trace_hash for s in range(1, 6)}
    assert len(hashes) == 5
