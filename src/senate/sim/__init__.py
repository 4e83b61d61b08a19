"""The deterministic simulator: N engines in one thread on a simulated clock, a
simulated network and disks, clients recording a history, faults from one seed.

- scheduler.py: simulated clock, event heap, random streams, the trace hash;
- network.py: latency with a tail, drop, dup, reorder, bounded links, partitions;
- disk.py: durable vs. volatile writes, crash with torn prefixes;
- node.py: the Ready/Advance driver of one node, its KV store and client requests;
- clients.py: client processes, retries and the history they record;
- faults.py: FaultConfig (one knob per fallacy) and the nemesis schedule;
- invariants.py: safety properties checked after every step;
- engines.py: protocol registry and mutants;
- runner.py: `run_simulation(SimConfig) -> SimResult`.
"""

from senate.sim.faults import DEFAULT_FAULTS, FAULT_KINDS, FaultConfig
from senate.sim.invariants import Violation
from senate.sim.runner import SimConfig, SimResult, run_simulation

__all__ = [
    "DEFAULT_FAULTS",
    "FAULT_KINDS",
    "FaultConfig",
    "SimConfig",
    "SimResult",
    "Violation",
    "run_simulation",
]
