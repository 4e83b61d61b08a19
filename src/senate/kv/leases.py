"""Leases in the state machine: grant, revoke, and the keys attached to each.

Rules this file keeps:
- The state machine never reads a clock. A lease here is only (id, ttl_ms, keys);
  its deadline lives outside, in the leader's LeaseKeeper (lease_keeper.py), which
  proposes LeaseRevoke when the deadline passes.
- Lease ids are chosen by the proposer (`new_lease_id`, with an injected rng), so
  every replica applies the same id. Granting an id that exists is rejected
  (LEASE_EXISTS): two clients that drew the same id must not share a lease.
- A Put with a lease attaches its key; a Put without one detaches it; deleting the
  key (Delete, a txn delete, or the revoke) detaches it. A Put naming an unknown
  lease is rejected (LEASE_NOT_FOUND) and changes nothing.
- LeaseRevoke deletes every attached key at one new revision (none if it had no
  keys), in key order, then forgets the lease.
- The table is bounded (max_leases); the attached key sets are not in the snapshot,
  they are rebuilt from each key's `lease` field.

Wire forms: `[3, lease_id, ttl_ms]` for LeaseGrant, `[4, lease_id]` for LeaseRevoke.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from senate.errors import MalformedInput
from senate.kv.ops import MAX_INT, OP_LEASE_GRANT, OP_LEASE_REVOKE, check_int
from senate.kv.results import Result

MAX_TTL_MS = 10 * 365 * 24 * 3600 * 1000  # ten years: a bound, not a recommendation
DEFAULT_MAX_LEASES = 100_000

LEASE_NOT_FOUND = "lease not found"
LEASE_EXISTS = "lease already exists"
TOO_MANY_LEASES = "too many leases"


@dataclass(slots=True, frozen=True)
class LeaseGrant:
    lease_id: int  # 1..2**63-1, picked by the proposer (new_lease_id)
    ttl_ms: int  # 1..MAX_TTL_MS


@dataclass(slots=True, frozen=True)
class LeaseRevoke:
    lease_id: int


@dataclass(slots=True, frozen=True)
class Lease:
    """A read-only view of one lease: its ttl and the keys attached, sorted."""

    lease_id: int
    ttl_ms: int
    keys: tuple[str, ...]


class LeaseAction(enum.Enum):
    GRANT = "grant"
    REVOKE = "revoke"


@dataclass(slots=True, frozen=True)
class LeaseResult(Result):
    """What a LeaseGrant or LeaseRevoke did (a Result, so apply's type stays Result).

    keys: for a revoke, the keys it deleted, sorted. error: LEASE_EXISTS,
    LEASE_NOT_FOUND or TOO_MANY_LEASES, and then nothing changed.
    """

    action: LeaseAction = LeaseAction.GRANT
    lease_id: int = 0
    ttl_ms: int = 0
    keys: tuple[str, ...] = ()


def new_lease_id(rng: random.Random) -> int:
    """A random 63-bit lease id (never 0, which means "no lease")."""
    return rng.randint(1, MAX_INT)


def check_grant(op: LeaseGrant) -> LeaseGrant:
    check_int(op.lease_id, "lease id", 1)
    check_int(op.ttl_ms, "ttl_ms", 1)
    if op.ttl_ms > MAX_TTL_MS:
        raise MalformedInput(f"ttl_ms must be at most {MAX_TTL_MS}, got {op.ttl_ms}")
    return op


def check_revoke(op: LeaseRevoke) -> LeaseRevoke:
    check_int(op.lease_id, "lease id", 1)
    return op


def grant_fields(op: LeaseGrant) -> list[Any]:
    return [OP_LEASE_GRANT, op.lease_id, op.ttl_ms]


def revoke_fields(op: LeaseRevoke) -> list[Any]:
    return [OP_LEASE_REVOKE, op.lease_id]


def decode_grant(fields: list[Any]) -> LeaseGrant:
    if len(fields) != 3:
        raise MalformedInput(f"lease grant must have 3 fields, got {len(fields)}")
    return check_grant(LeaseGrant(fields[1], fields[2]))


def decode_revoke(fields: list[Any]) -> LeaseRevoke:
    if len(fields) != 2:
        raise MalformedInput(f"lease revoke must have 2 fields, got {len(fields)}")
    return check_revoke(LeaseRevoke(fields[1]))


class LeaseTable:
    """lease id -> (ttl_ms, attached keys). Mutated only by the store's apply."""

    def __init__(self, max_leases: int = DEFAULT_MAX_LEASES) -> None:
        if max_leases < 1:
            raise ValueError("max_leases must be at least 1")
        self.max_leases = max_leases
        self._ttl: dict[int, int] = {}
        self._keys: dict[int, set[str]] = {}

    def __len__(self) -> int:
        return len(self._ttl)

    def __contains__(self, lease_id: object) -> bool:
        return lease_id in self._ttl

    def __iter__(self) -> Iterator[Lease]:
        """Every lease, by id."""
        for lease_id in sorted(self._ttl):
            yield self._view(lease_id)

    def get(self, lease_id: int) -> Lease | None:
        return self._view(lease_id) if lease_id in self._ttl else None

    def _view(self, lease_id: int) -> Lease:
        return Lease(lease_id, self._ttl[lease_id], tuple(sorted(self._keys[lease_id])))

    def grant_error(self, lease_id: int) -> str | None:
        """Why granting `lease_id` is refused, or None if it may be granted."""
        if lease_id in self._ttl:
            return LEASE_EXISTS
        if len(self._ttl) >= self.max_leases:
            return TOO_MANY_LEASES
        return None

    def grant(self, lease_id: int, ttl_ms: int) -> None:
        self._ttl[lease_id] = ttl_ms
        self._keys[lease_id] = set()

    def remove(self, lease_id: int) -> list[str]:
        """Forget the lease; return its keys, sorted (the caller deletes them)."""
        del self._ttl[lease_id]
        return sorted(self._keys.pop(lease_id))

    def attach(self, lease_id: int, key: str) -> None:
        self._keys[lease_id].add(key)

    def detach(self, lease_id: int, key: str) -> None:
        keys = self._keys.get(lease_id)
        if keys is not None:
            keys.discard(key)

    def ttls(self) -> list[tuple[int, int]]:
        """(lease id, ttl_ms) for every lease, by id (what the snapshot keeps)."""
        return sorted(self._ttl.items())
