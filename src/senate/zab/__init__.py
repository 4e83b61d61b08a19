"""ZAB (Zookeeper Atomic Broadcast) as a sans-I/O consensus engine.

See core.py (election, follower) and leader.py (discovery, synchronization,
broadcast) for the theory of operation, log.py for the zxid <-> index mapping.
"""

from senate.zab.config import ZabConfig
from senate.zab.messages import MessageType, ZabMessage, message_from_wire
from senate.zab.node import Zab, zab_factory

__all__ = ["MessageType", "Zab", "ZabConfig", "ZabMessage", "message_from_wire", "zab_factory"]
