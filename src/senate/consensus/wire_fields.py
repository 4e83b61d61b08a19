"""Checked decoding of the fields every engine's messages share: ints, node ids,
bytes, enums, log entries and snapshots.

Rules this file keeps:
- peer input is untrusted: every value is type-checked and bounded, and anything
  wrong raises MalformedInput naming the protocol and the field, never another
  exception (so a bad frame closes one connection and changes nothing);
- entries decode only as a contiguous run, starting at index 1 or later, whose
  terms (ballots, epochs) never go down; the data of configuration entries is
  decoded too, since garbage there would break replay on every node;
- the words in messages follow the engine: Raft says "term", Paxos "ballot" and
  "slot", ZAB "epoch".
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import TypeVar

from senate.consensus.types import ConfChange, Entry, EntryKind, Membership, Snapshot
from senate.errors import MalformedInput

_E = TypeVar("_E", bound=enum.Enum)

MAX_NODE_ID = 256


def short(obj: object) -> str:
    """A repr short enough for one log line (a bad message may carry megabytes)."""
    text = repr(obj)
    return text if len(text) <= 80 else text[:77] + "..."


class FieldReader:
    """Field decoders for one protocol's messages."""

    def __init__(
        self,
        protocol: str,
        *,
        index: str = "index",
        term: str = "term",
        data_checks: Mapping[EntryKind, Callable[[bytes], object]] | None = None,
    ) -> None:
        self.prefix = f"{protocol} message"
        self.index_word = index
        self.term_word = term
        # Entry kinds whose data must decode; ConfChange for every engine.
        self.data_checks: dict[EntryKind, Callable[[bytes], object]] = {
            EntryKind.CONF_CHANGE: ConfChange.decode,
            **(data_checks or {}),
        }

    def error(self, text: str) -> MalformedInput:
        return MalformedInput(f"{self.prefix}: {text}")

    def uint(self, value: object, name: str) -> int:
        # bool is an int subclass; a True where an index belongs is garbage.
        if type(value) is not int or value < 0 or value >= 1 << 63:
            raise self.error(f"{name} must be a non-negative int, got {short(value)}")
        return value

    def enum(self, cls: type[_E], value: object, name: str) -> _E:
        try:
            return cls(self.uint(value, name))
        except ValueError as exc:
            raise self.error(f"unknown {name} {value!r}") from exc

    def node(self, value: object, name: str) -> str:
        if not isinstance(value, str) or not value or len(value) > MAX_NODE_ID:
            raise self.error(f"{name} must be a node id, got {short(value)}")
        return value

    def bytes_(self, value: object, name: str) -> bytes:
        if not isinstance(value, bytes):
            raise self.error(f"{name} must be bytes, got {short(value)}")
        return value

    def entries(self, value: object) -> tuple[Entry, ...]:
        if not isinstance(value, (list, tuple)):
            raise self.error("entries must be a list")
        index_word, term_word = self.index_word, self.term_word
        out: list[Entry] = []
        for item in value:
            if not isinstance(item, (list, tuple)) or len(item) != 4:
                raise self.error(f"bad entry {short(item)}")
            index = self.uint(item[0], f"entry {index_word}")
            term = self.uint(item[1], f"entry {term_word}")
            kind = self.enum(EntryKind, item[2], "entry kind")
            data = self.bytes_(item[3], "entry data")
            check = self.data_checks.get(kind)
            if check is not None:
                check(data)  # raises MalformedInput on garbage
            if out and (index != out[-1].index + 1 or term < out[-1].term):
                raise self.error(f"entries must be contiguous, {term_word}s non-decreasing")
            if index == 0 or term == 0:
                raise self.error(f"entries start at {index_word} 1 and {term_word} 1")
            out.append(Entry(index, term, kind, data))
        return tuple(out)

    def snapshot(self, value: object) -> Snapshot | None:
        if value is None:
            return None
        if not isinstance(value, (list, tuple)) or len(value) != 4:
            raise self.error(f"bad snapshot {short(value)}")
        membership = Membership.from_obj(value[2])
        if not membership.voters:
            raise self.error("snapshot membership has no voters")
        return Snapshot(
            index=self.uint(value[0], "snapshot index"),
            term=self.uint(value[1], f"snapshot {self.term_word}"),
            membership=membership,
            data=self.bytes_(value[3], "snapshot data"),
        )
