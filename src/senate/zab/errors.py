"""Errors the ZAB core raises to its driver, all under senate.errors.ConsensusError."""

from __future__ import annotations

from senate.errors import ConsensusError


class InvalidConfChange(ConsensusError):
    """A membership step that makes no sense (add an existing member, remove a stranger...)."""


class LearnerNotCaughtUp(ConsensusError):
    """PROMOTE refused: the observer has not synced every committed proposal yet."""


class InvalidTransferTarget(ConsensusError):
    """Leadership can only be handed to another voter."""


class EngineMisuse(ConsensusError):
    """The driver broke the Ready/Advance handshake (for example two ready() in a row)."""
