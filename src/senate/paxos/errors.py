"""Errors the Multi-Paxos core raises to its driver, all under ConsensusError."""

from __future__ import annotations

from senate.errors import ConsensusError


class InvalidConfChange(ConsensusError):
    """A membership step that makes no sense (add an existing member, remove a stranger...)."""


class LearnerNotCaughtUp(ConsensusError):
    """PROMOTE refused: the learner does not yet hold every chosen entry."""


class InvalidTransferTarget(ConsensusError):
    """Leadership can only be handed to another voter."""


class EngineMisuse(ConsensusError):
    """The driver broke the Ready/Advance handshake, or durable state is inconsistent."""
