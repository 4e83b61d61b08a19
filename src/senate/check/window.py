"""Shrinking a violation to a small window of operations that still shows it.

Rules this file keeps:
- The window is a WITNESS: checked on its own it is not linearizable, and that alone
  proves the whole history is not. Every shrinking step below keeps that true:
  1. Cut at the stuck point r (the return the search could not get past) and at a start
     a: keep the operations overlapping [a, r]. Those invoked before a or returning after
     r become optional, and the register starts from ANY value. (Any linearization of
     the history, cut after the last operation that must finish by r and before the
     first that starts after a, would linearize this slice from some value.) The largest
     a that still fails is found by galloping back from r, then bisection; a = the first
     invoke starts from absent.
  2. Relax: turn definite operations optional (for a read, that drops it) in shrinking
     chunks, keeping each relaxation under which the slice still fails. Making an
     operation optional only allows more orders, so the slice stays a witness.
- Effort is bounded: a total step budget and a cap on trials. When the budget runs out
  the window found so far, already a witness, is returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from senate.check.model import ABSENT, ANY, READ, KeyOp, prune_unobserved
from senate.check.search import search

_MAX_TRIALS = 400


@dataclass(slots=True)
class _Budget:
    steps: int
    trials: int = _MAX_TRIALS

    def fails(self, ops: Sequence[KeyOp], initial: int) -> bool:
        """True only if the search proves `ops` not linearizable within the budget."""
        if self.steps <= 0 or self.trials <= 0:
            return False
        self.trials -= 1
        outcome = search(prune_unobserved(list(ops)), max_steps=self.steps, initial=initial)
        self.steps -= outcome.steps
        return outcome.linearizable is False


def minimal_window(ops: Sequence[KeyOp], stuck: KeyOp, *, max_steps: int) -> list[KeyOp]:
    """A small not-linearizable slice of `ops` (one key) around the `stuck` operation."""
    budget = _Budget(max_steps)
    assert stuck.ret is not None
    end = stuck.ret
    starts = sorted({op.call for op in ops if op.call <= end})
    # The latest start a whose slice still fails: gallop back from the stuck point (short
    # slices are cheap), then bisect. starts[0] needs no check (the search already
    # failed there); any later start must be proven to fail.
    best, passed = 0, len(starts)  # starts[best] fails; starts[passed:] did not
    distance = 1
    while len(starts) - distance > 0:
        probe = len(starts) - distance
        if budget.fails(_slice(ops, starts[probe], end), ANY):
            best = probe
            break
        passed = probe
        distance *= 2
    low, high = best + 1, passed - 1
    while low <= high:
        middle = (low + high) // 2
        if budget.fails(_slice(ops, starts[middle], end), ANY):
            best, low = middle, middle + 1
        else:
            high = middle - 1
    initial = ANY if best > 0 else ABSENT
    window = _slice(ops, starts[best], end)
    window = _relax(window, stuck, initial, budget)
    return sorted(prune_unobserved(window), key=lambda op: op.call)


def _slice(ops: Sequence[KeyOp], start: int, end: int) -> list[KeyOp]:
    """Operations overlapping [start, end]; those not wholly inside become optional."""
    window = []
    for op in ops:
        if op.call > end or (op.ret is not None and op.ret < start):
            continue
        inside = op.call >= start and op.ret is not None and op.ret <= end
        if not inside:
            if op.kind == READ:  # an optional read constrains nothing: drop it
                continue
            op = replace(op, ret=None)
        window.append(op)
    return window


def _relax(window: list[KeyOp], stuck: KeyOp, initial: int, budget: _Budget) -> list[KeyOp]:
    """Make definite ops optional, in halving chunks, while the slice still fails."""
    chunk = max(1, len(window) // 2)
    while True:
        definite = [i for i, op in enumerate(window) if not op.optional and op is not stuck]
        changed = False
        for begin in range(0, len(definite), chunk):
            chosen = set(definite[begin : begin + chunk])
            trial = [
                relaxed
                for i, op in enumerate(window)
                if (relaxed := _relaxed(op) if i in chosen else op) is not None
            ]
            if budget.fails(trial, initial):
                window = trial
                changed = True
                break
        if changed:
            chunk = max(1, min(chunk, len(window) // 2))
            continue
        if chunk == 1 or budget.steps <= 0 or budget.trials <= 0:
            return window
        chunk = max(1, chunk // 2)


def _relaxed(op: KeyOp) -> KeyOp | None:
    return None if op.kind == READ else replace(op, ret=None)
