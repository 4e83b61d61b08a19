"""What the client hands back: stored keys, watch events, leases, locks, members.

All frozen: a caller may keep and share them. Values are bytes; keys are str.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal


@dataclass(slots=True, frozen=True)
class KeyValue:
    """A stored key. `revision` is its mod revision (the revision of its last write);
    the other revisions and the lease are filled in when the server reports them."""

    key: str
    value: bytes
    revision: int
    create_revision: int | None = None
    version: int | None = None
    lease: int | None = None


@dataclass(slots=True, frozen=True)
class Event:
    """One change seen by a watch; `value` is None for a delete."""

    type: Literal["put", "delete"]
    key: str
    value: bytes | None
    revision: int


@dataclass(slots=True, frozen=True)
class Lease:
    """A lease; ttl and remaining in seconds."""

    id: int
    ttl: float
    remaining: float | None = None
    keys: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class LockGrant:
    """A held lock: `fencing_token` only grows across holders; pass it to whatever
    the lock protects so a stale holder's late writes can be refused."""

    name: str
    lease: int
    fencing_token: int
    key: str


@dataclass(slots=True, frozen=True)
class Member:
    id: str
    peer: str
    http: str | None
    voter: bool


@dataclass(slots=True, frozen=True)
class DeleteResult:
    """The store's revision after the delete and whether a key was there to delete;
    unpacks as a pair: `revision, deleted = client.delete(key)`."""

    revision: int
    deleted: bool

    def __iter__(self) -> Iterator[int | bool]:
        return iter((self.revision, self.deleted))


__all__ = ["DeleteResult", "Event", "KeyValue", "Lease", "LockGrant", "Member"]
