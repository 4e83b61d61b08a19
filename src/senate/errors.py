"""The one small error hierarchy of Senate.

Every error a user can meet derives from SenateError and carries a message that
says what went wrong; the CLI prints it on one line and exits with `exit_code`.
"""

from __future__ import annotations


class SenateError(Exception):
    """Base of every Senate error. `exit_code` is what the CLI exits with."""

    exit_code = 1


class UsageError(SenateError):
    """Bad flags, arguments or input files given by a user."""

    exit_code = 2


class MalformedInput(SenateError):
    """Bytes or documents that fail validation (network frames, history files)."""

    exit_code = 2


class ClockError(SenateError):
    """A clock refused a timestamp (for example one too far in the future)."""


class ConsensusError(SenateError):
    """Base of errors raised by consensus engines to their drivers."""


class NotLeader(ConsensusError):
    """A proposal or leader-only request reached a node that is not the leader.

    `leader` is the id of the leader this node believes in, or None.
    """

    def __init__(self, leader: str | None, message: str | None = None) -> None:
        self.leader = leader
        super().__init__(message or f"not the leader (leader is {leader or 'unknown'})")


class ProposalDropped(ConsensusError):
    """The engine refused a proposal (for example during a leadership transfer)."""


class ConfigChangeInProgress(ConsensusError):
    """A membership change was proposed while another is still uncommitted."""


class StorageError(SenateError):
    """A data directory or file is unusable (corrupt in the middle, wrong version)."""


class CRDTError(SenateError):
    """A CRDT operation or encoded CRDT is invalid."""


class DecodeError(CRDTError, MalformedInput):
    """Encoded bytes (a CRDT document or update) could not be decoded."""
