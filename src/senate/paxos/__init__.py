"""Multi-Paxos as a sans-I/O consensus engine. See core.py for the theory of operation."""

from senate.paxos.config import PaxosConfig
from senate.paxos.messages import MessageType, PaxosMessage, message_from_wire
from senate.paxos.node import MultiPaxos, paxos_factory

__all__ = [
    "MessageType",
    "MultiPaxos",
    "PaxosConfig",
    "PaxosMessage",
    "message_from_wire",
    "paxos_factory",
]
