"""Quorum arithmetic over a set of voters. Learners never appear here.

Rules this file keeps: a quorum is a strict majority of the voters; a voter that
has not answered counts as "no" for commits and as "pending" for elections.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping


class VoteResult(enum.Enum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"


def committed_index(voters: Iterable[str], match_of: Callable[[str], int]) -> int:
    """The largest index that a majority of `voters` hold (0 with no voters)."""
    matches = sorted((match_of(v) for v in voters), reverse=True)
    if not matches:
        return 0
    return matches[len(matches) // 2]


def vote_result(voters: frozenset[str], votes: Mapping[str, bool]) -> VoteResult:
    need = len(voters) // 2 + 1
    granted = sum(1 for v in voters if votes.get(v) is True)
    rejected = sum(1 for v in voters if votes.get(v) is False)
    if granted >= need:
        return VoteResult.WON
    if len(voters) - rejected < need:
        return VoteResult.LOST
    return VoteResult.PENDING


def has_quorum(voters: frozenset[str], members: Iterable[str]) -> bool:
    """Do `members` include a majority of `voters`?"""
    return len(voters.intersection(members)) >= len(voters) // 2 + 1
