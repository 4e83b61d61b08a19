"""The key-value state machine: commands, the deterministic store, sessions, snapshots.

`KVStore.apply(index, data)` is what a driver calls for each committed entry;
`encode_request` is what a client-facing service proposes.
"""

from senate.kv.commands import Delete, Put, Request, decode_request, encode_request
from senate.kv.results import KeyValue, Result
from senate.kv.store import KVStore

__all__ = [
    "Delete",
    "KVStore",
    "KeyValue",
    "Put",
    "Request",
    "Result",
    "decode_request",
    "encode_request",
]
