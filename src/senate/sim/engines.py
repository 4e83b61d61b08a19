"""Which consensus engine a simulation runs: a registry by protocol name, plus the
deliberately broken variants (mutants) each protocol offers for mutation testing.

Rules this file keeps:
- Engines are imported only when chosen, so a protocol still under construction
  does not break the others.
- Engine knobs (batch sizes, windows) are drawn per run from the seed, so the
  replay command stays just the seed and the flags.
- A protocol's mutants live in its own package as `MUTANTS: dict[str, factory]`,
  each factory taking an optional engine config and returning an EngineFactory.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from typing import Any

from senate.consensus.engine import EngineFactory
from senate.errors import UsageError

# protocol -> (module with the engine factory, its attribute, module with MUTANTS)
PROTOCOLS: dict[str, tuple[str, str, str]] = {
    "raft": ("senate.raft", "raft_factory", "senate.raft.mutants"),
    "multipaxos": ("senate.paxos", "paxos_factory", "senate.paxos.mutants"),
    "zab": ("senate.zab", "zab_factory", "senate.zab.mutants"),
}


def _raft_knobs(rng: random.Random) -> Any:
    # Small batches and windows split a follower's catch-up into many round trips,
    # which is where a leader that counts replicas of old-term entries goes wrong.
    from senate.raft import RaftConfig

    # Backtracking from the follower's commit index (instead of the conflict hint)
    # resends entries a follower already holds while its log runs on past them:
    # where a follower that ignores min(leader commit, last new) commits a stale tail.
    return RaftConfig(
        max_msg_entries=rng.choices((1, 4, 64), weights=(4, 1, 1))[0],
        max_inflight=rng.choices((1, 4, 16), weights=(4, 1, 1))[0],
        conflict_hints=rng.random() < 0.5,
    )


# protocol -> a config drawn from the run's seed (knob fuzzing, as FoundationDB's
# simulator randomizes its knobs): every run explores a different corner.
KNOBS: dict[str, Callable[[random.Random], Any]] = {"raft": _raft_knobs}


def random_config(protocol: str, rng: random.Random) -> Any:
    """An engine config drawn from `rng` (None: the protocol's defaults)."""
    _protocol(protocol)
    draw = KNOBS.get(protocol)
    return draw(rng) if draw is not None else None


def _protocol(name: str) -> tuple[str, str, str]:
    entry = PROTOCOLS.get(name)
    if entry is None:
        raise UsageError(f"unknown protocol {name!r} (choose from {', '.join(sorted(PROTOCOLS))})")
    return entry


def mutants(protocol: str = "raft") -> dict[str, Callable[..., EngineFactory]]:
    """The broken variants of `protocol`, by name (empty if it has none yet)."""
    module_name = _protocol(protocol)[2]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return {}
    table: dict[str, Callable[..., EngineFactory]] = dict(module.MUTANTS)
    return dict(sorted(table.items()))


def engine_factory(protocol: str, mutant: str | None = None, config: Any = None) -> EngineFactory:
    """The EngineFactory for `protocol` (or one of its mutants)."""
    module_name, attr, _ = _protocol(protocol)
    if mutant is not None:
        table = mutants(protocol)
        if mutant not in table:
            known = ", ".join(sorted(table)) or "none"
            raise UsageError(f"unknown mutant {mutant!r} for {protocol} (known: {known})")
        return table[mutant](config)
    make: Callable[..., EngineFactory] = getattr(importlib.import_module(module_name), attr)
    return make(config)
