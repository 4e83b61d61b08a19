"""Senate: distributed consensus and replication in Python.

Layers (imports point down only): cli -> api/client -> kv, crdt store, txn ->
shard -> raft, paxos, zab -> storage -> runtime, sim -> wire -> clocks.
See DESIGN.md in the shared folder and README.md.
"""

__version__ = "0.1.0"
