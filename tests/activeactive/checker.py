"""Expected values of an active-active history, derived from the recorded operations.

The workload is built so the documented rules pin down the answer from what clients
saw (no access to the replicas' internals):
- counter keys (INCRBY only) and sorted-set scores (ZINCRBY only): the final value is
  the sum of the acknowledged increments plus some subset of those whose outcome is
  unknown (the client lost its connection: kill -9);
- set keys: each SADD adds a fresh element; an SREM that answered 1 observed that
  element's add, so the element must be gone; an acknowledged add with no such remove
  must be present (add-wins: a concurrent SREM answers 0 and removes nothing of it);
- string keys and hash fields: each SET/HSET writes a fresh value; the final value must
  be one that was written, and not one that a client read and then overwrote on the
  same replica (that write observed it: LWW by causality first).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

UNKNOWN = "unknown"


@dataclass(slots=True)
class Record:
    client: int
    node: str
    cmd: str
    key: str
    arg: str  # element, field, or amount
    value: str  # written value (SET/HSET), member (ZINCRBY)
    result: object  # the reply, or UNKNOWN


@dataclass(slots=True)
class History:
    records: list[Record] = field(default_factory=list)

    def add(self, *args: object) -> None:
        self.records.append(Record(*args))  # type: ignore[arg-type]


def subset_sums(amounts: list[float], cap: int = 4096) -> set[float]:
    sums = {0.0}
    for a in amounts:
        sums |= {s + a for s in sums}
        if len(sums) > cap:
            break
    return sums


def check_sum(final: float, acked: float, unknown: list[float], what: str) -> list[str]:
    extra = final - acked
    if any(abs(extra - s) < 1e-6 for s in subset_sums(unknown)):
        return []
    return [f"{what}: {final} is not {acked} plus a subset of the unknown {unknown}"]


def expected_problems(history: History, final: dict[str, object]) -> list[str]:
    """Every way `final` (key -> value read after convergence) breaks the rules."""
    problems: list[str] = []
    counters: dict[str, tuple[float, list[float]]] = defaultdict(lambda: (0.0, []))
    scores: dict[tuple[str, str], tuple[float, list[float]]] = defaultdict(lambda: (0.0, []))
    adds: dict[tuple[str, str], object] = {}
    removed: set[tuple[str, str]] = set()
    maybe_removed: set[tuple[str, str]] = set()
    written: dict[tuple[str, str], set[str]] = defaultdict(set)
    acked_writes: dict[tuple[str, str], set[str]] = defaultdict(set)
    overwritten: set[tuple[str, str, str]] = set()
    deleted: set[tuple[str, str]] = set()
    last_read: dict[tuple[int, str, str], str] = {}
    for r in history.records:
        ok = r.result != UNKNOWN
        if r.cmd == "INCRBY":
            acked, unknown = counters[r.key]
            amount = float(r.arg)
            counters[r.key] = (acked + amount, unknown) if ok else (acked, [*unknown, amount])
        elif r.cmd == "ZINCRBY":
            acked, unknown = scores[(r.key, r.value)]
            amount = float(r.arg)
            scores[(r.key, r.value)] = (
                (acked + amount, unknown) if ok else (acked, [*unknown, amount])
            )
        elif r.cmd == "SADD":
            adds[(r.key, r.arg)] = r.result
        elif r.cmd == "SREM":
            if r.result == 1:
                removed.add((r.key, r.arg))
            elif not ok:
                maybe_removed.add((r.key, r.arg))
        elif r.cmd in ("SET", "HSET"):
            slot = (r.key, r.arg)
            written[slot].add(r.value)
            if ok:
                acked_writes[slot].add(r.value)
                seen = last_read.get((r.client, r.key, r.arg))
                if seen is not None:
                    overwritten.add((r.key, r.arg, seen))
        elif r.cmd in ("GET", "HGET") and ok and r.result is not None:
            last_read[(r.client, r.key, r.arg)] = str(r.result)
        elif r.cmd == "HDEL":
            deleted.add((r.key, r.arg))
    for key, (acked, unknown) in counters.items():
        value = final.get(key)
        problems += check_sum(float(value or 0), acked, unknown, f"counter {key}")  # type: ignore[arg-type]
    for (key, member), (acked, unknown) in scores.items():
        zset = final.get(key) or {}
        assert isinstance(zset, dict)
        problems += check_sum(zset.get(member, 0.0), acked, unknown, f"score {key}/{member}")
    for (key, element), result in adds.items():
        members = final.get(key) or set()
        assert isinstance(members, set)
        present = element in members
        if (key, element) in removed and present:
            problems.append(f"set {key}: {element} was removed by an SREM that saw it")
        if result == 1 and not present and (key, element) not in removed | maybe_removed:
            problems.append(f"set {key}: acknowledged {element} is missing")
    for key in {k for k, _ in adds}:
        members = final.get(key) or set()
        assert isinstance(members, set)
        strays = {m for m in members if (key, m) not in adds}
        if strays:
            problems.append(f"set {key}: never added {sorted(strays)[:5]}")
    for (key, name), values in written.items():
        value = final.get(key) if name == "" else (final.get(key) or {}).get(name)  # type: ignore[union-attr]
        if value is None:
            if acked_writes[(key, name)] and (key, name) not in deleted:
                problems.append(f"{key}/{name}: acknowledged writes but no value")
            continue
        if value not in values:
            problems.append(f"{key}/{name}: {value!r} was never written")
        if (key, name, value) in overwritten:
            problems.append(f"{key}/{name}: {value!r} was overwritten by a write that saw it")
    return problems
