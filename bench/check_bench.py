"""Benchmark: the linearizability checker on a 10,000-operation history.

    python bench/check_bench.py [--seed 1] [--ops 10000] [--processes 10] [--keys 10]
                                [--stress]

The history comes from a simulated atomic register (senate.check.generate): 10
processes with overlapping operations and a latency tail, 5% info (timed-out)
operations that may or may not take effect, 1% failed ones. The "bad" variant changes
one late read to return a value overwritten long before (a stale read).

Baseline, measured in the same run: the same search without Lowe's memoization (plain
Wing & Gong with the same pruning), given a step cap; when it hits the cap its time is
a lower bound and the ratio is printed with ">". Issue 2's target: the 10,000-op check
in under 10 s on this machine. Wall and CPU (process) time are both shown: on a shared
machine CPU time is the steadier number. Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import time
from collections.abc import Sequence

from senate.check import Event, Verdict, check_events
from senate.check.generate import register_history
from senate.check.history import pair_operations
from senate.check.model import ValueTable, to_key_ops
from senate.check.search import search

BASELINE_MAX_STEPS = 3_000_000


def stale_read_variant(events: list[Event], rng: random.Random) -> list[Event]:
    """Make one read in the last fifth return the value of a write from the first half."""
    late_reads = [
        i
        for i, e in enumerate(events)
        if e.f == "read" and e.type == "ok" and i > 0.8 * len(events)
    ]
    index = rng.choice(late_reads)
    read = events[index]
    early_writes = [
        e.value
        for e in events[: len(events) // 2]
        if e.f == "write" and e.type == "ok" and e.key == read.key
    ]
    bad = list(events)
    bad[index] = dataclasses.replace(read, value=early_writes[-1])
    return bad


def baseline(events: Sequence[Event], max_steps: int) -> tuple[str, int]:
    """Per-key search without memoization; ('unknown', steps) if it hits the cap."""
    per_key = to_key_ops(pair_operations(events), ValueTable())
    steps = 0
    for ops in sorted(per_key.values(), key=len):
        outcome = search(ops, max_steps=max_steps - steps, memoize=False)
        steps += outcome.steps
        if outcome.linearizable is None:
            return "unknown", steps
        if not outcome.linearizable:
            return "not linearizable", steps
    return "linearizable", steps


def timed_check(events: Sequence[Event]) -> tuple[Verdict, int, float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = check_events(events)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return result.verdict, result.steps, wall, cpu, len(result.window)


def bench(seed: int, ops: int, processes: int, keys: int) -> None:
    rng = random.Random(seed)
    good = register_history(
        rng, ops=ops, processes=processes, keys=keys, info_rate=0.05, fail_rate=0.01
    )
    bad = stale_read_variant(good, rng)
    info = sum(1 for e in good if e.type == "info")
    print(
        f"\nhistory: seed {seed}, {ops} ops, {processes} processes, {keys} keys, "
        f"{info} info ops, {len(good)} events"
    )
    header = (
        f"{'variant':<8} {'verdict':<17} {'steps':>9} {'wall s':>7} {'cpu s':>7} "
        f"{'window':>6} | {'baseline: no memo, cpu s':<33} {'ratio':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, events in (("good", good), ("bad", bad)):
        verdict, steps, wall, cpu, window = timed_check(events)
        started = time.process_time()
        base_verdict, base_steps = baseline(events, BASELINE_MAX_STEPS)
        base_cpu = time.process_time() - started
        capped = base_verdict == "unknown"
        base = f"{base_cpu:.2f} ({base_steps} steps{', cap' if capped else ''})"
        ratio = base_cpu / cpu if cpu > 0 else float("inf")
        # A capped baseline only bounds the ratio from below; below 1x it says nothing.
        shown = "-" if capped and ratio < 1 else f"{'>' if capped else ' '}{ratio:>6.1f}x"
        print(
            f"{name:<8} {verdict.value:<17} {steps:>9} {wall:>7.2f} {cpu:>7.2f} {window:>6} | "
            f"{base:<33} {shown:>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument(
        "--stress", action="store_true", help="also run 3-key and 1-key histories (slow)"
    )
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average before the run: {load} (on {os.cpu_count()} cores)")
    bench(args.seed, args.ops, args.processes, args.keys)
    if args.stress:
        for keys in (3, 1):
            bench(args.seed, args.ops, args.processes, keys)


if __name__ == "__main__":
    main()
