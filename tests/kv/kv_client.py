"""Test helper: feed one KVStore from consecutive log indexes, one client id, rising seqs."""

from __future__ import annotations

from senate.kv import Command, KVStore, Request, Result, encode_request


class Client:
    def __init__(self, store: KVStore, client_id: str = "c") -> None:
        self.store, self.client_id, self.seq = store, client_id, 0

    def do(self, op: Command) -> Result:
        self.seq += 1
        return self.again(op)

    def again(self, op: Command) -> Result:
        """Send `op` with the current seq again (a client retry)."""
        data = encode_request(Request(self.client_id, self.seq, op))
        return self.store.apply(self.store.applied_index + 1, data)
