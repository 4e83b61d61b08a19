"""Raft as a sans-I/O consensus engine (etcd raft style). See core.py for the theory."""

from senate.raft.config import RaftConfig
from senate.raft.messages import MessageType, RaftMessage, message_from_wire
from senate.raft.node import Raft, raft_factory

__all__ = ["MessageType", "Raft", "RaftConfig", "RaftMessage", "message_from_wire", "raft_factory"]
