"""The common shape of every Senate CRDT (state-based, with delta mutators).

Theory of operation (Almeida, Shoker, Baquero, "Delta State Replicated Data Types"):
a replica's state lives in a join-semilattice; `merge` is the join. Each local mutator
changes the state and returns a *delta*: a small state of the same type whose join
into any replica has the effect of the mutation. Deltas and whole replicas are merged
the same way, in any order, any number of times.

Rules kept in this file:
- every CRDT has a replica id; it names the replica's own events and is not state:
  `fork` makes a replica with a new id and the same state, `encode_state` and `==`
  ignore the id;
- `merge` only accepts the same type (and, for maps, the same value type);
- `encode` is canonical msgpack [tag, version, replica, state]; `decode` validates
  untrusted bytes and raises DecodeError, never anything else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

from senate.clocks._validate import MAX_ID_LENGTH
from senate.crdt._codec import expect_id, expect_list, pack, unpack
from senate.errors import ClockError, CRDTError, DecodeError

FORMAT_VERSION = 1


def check_replica(replica: object) -> str:
    if not isinstance(replica, str) or not replica or len(replica) > MAX_ID_LENGTH:
        raise CRDTError(
            f"a replica id must be a non-empty string of at most {MAX_ID_LENGTH} characters, "
            f"got {replica!r:.60}"
        )
    return replica


class CRDT(ABC):
    """Base of every CRDT: replica id, fork, merge, value, canonical encoding."""

    __slots__ = ("_replica",)

    TAG: ClassVar[str]  # the type's name on the wire

    def __init__(self, replica: str) -> None:
        self._replica = check_replica(replica)

    @property
    def replica(self) -> str:
        return self._replica

    # -- the semilattice ------------------------------------------------------------------
    @abstractmethod
    def copy(self) -> Self:
        """An independent copy with the same replica id and state."""

    def fork(self, replica: str) -> Self:
        """An independent replica with its own id and this replica's state."""
        replica = check_replica(replica)
        if replica == self._replica:
            raise CRDTError(f"a fork needs its own replica id, {replica!r} is this replica's")
        twin = self.copy()
        twin._replica = replica
        return twin

    def merge(self, other: Self) -> None:
        """Join a delta or a whole replica of the same type into this one."""
        if type(other) is not type(self):
            raise CRDTError(f"cannot merge a {type(other).__name__} into a {type(self).__name__}")
        self._join(other)

    @abstractmethod
    def _join(self, other: Self) -> None:
        """The join itself; `other` is known to be of this type."""

    @property
    @abstractmethod
    def value(self) -> Any:
        """The value users read."""

    # -- encoding ---------------------------------------------------------------------------
    @abstractmethod
    def _state_plain(self) -> Any:
        """The canonical plain form of the state (lists and scalars, sorted)."""

    @classmethod
    @abstractmethod
    def _from_state_plain(cls, replica: str, plain: Any) -> Self:
        """Rebuild from an untrusted plain state; raises DecodeError or ClockError."""

    def encode(self) -> bytes:
        return pack([self.TAG, FORMAT_VERSION, self._replica, self._state_plain()])

    def encode_state(self) -> bytes:
        """Canonical bytes of the state alone: equal states give equal bytes."""
        return pack([self.TAG, FORMAT_VERSION, self._state_plain()])

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Rebuild a replica from `encode` output; raises DecodeError on anything else."""
        obj = unpack(data, cls.TAG)
        tag, version, replica, state = expect_list(obj, f"encoded {cls.TAG}", 4)
        if tag != cls.TAG:
            raise DecodeError(f"expected an encoded {cls.TAG}, got tag {tag!r:.40}")
        if version != FORMAT_VERSION:
            raise DecodeError(f"unsupported {cls.TAG} format version {version!r:.20}")
        replica = expect_id(replica, "replica id")
        try:
            return cls._from_state_plain(replica, state)
        except ClockError as exc:
            raise DecodeError(f"bad {cls.TAG} state: {exc}") from None
        except DecodeError:
            raise
        except CRDTError as exc:
            raise DecodeError(f"bad {cls.TAG} state: {exc}") from None

    # -- value protocol -----------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, CRDT)
        return bool(self._state_plain() == other._state_plain())

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"{type(self).__name__}(replica={self._replica!r}, value={self.value!r})"
