"""Ballots: (round, node rank) pairs, totally ordered, packed into one int.

Rules this file keeps:
- ballot = round * 2**16 + rank(node); comparing the ints compares (round, rank)
  lexicographically, so two nodes never share a ballot as long as their ranks
  differ. The int is what travels in messages and what the engine stores in
  HardState.term (the promised ballot) and in Entry.term (see core.py);
- rank(node) = crc32(node id) mod 2**16: stable across restarts and membership
  changes, no coordination needed. Two members with the same rank would share
  ballots, so the engine refuses such a membership (`check_ranks`);
- ballot 0 means "none": no promise, nothing accepted. Real ballots have
  round >= 1, so they are >= 2**16.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from senate.errors import UsageError

RANK_BITS = 16
RANK_SPAN = 1 << RANK_BITS


def rank(node_id: str) -> int:
    return zlib.crc32(node_id.encode()) % RANK_SPAN


def make_ballot(round_: int, node_id: str) -> int:
    return round_ * RANK_SPAN + rank(node_id)


def round_of(ballot: int) -> int:
    return ballot >> RANK_BITS


def next_ballot(above: int, node_id: str) -> int:
    """The smallest ballot of `node_id` strictly greater than `above`."""
    round_ = max(round_of(above), 1)  # round 0 is reserved for "none"
    mine = make_ballot(round_, node_id)
    return mine if mine > above else make_ballot(round_ + 1, node_id)


def check_ranks(nodes: Iterable[str]) -> None:
    """Refuse a set of node ids in which two share a rank (they would share ballots)."""
    seen: dict[int, str] = {}
    for node in sorted(nodes):
        other = seen.setdefault(rank(node), node)
        if other != node:
            raise UsageError(f"paxos: node ids {other!r} and {node!r} share ballot rank")
