"""Conflict-free replicated data types, state-based with delta mutators.

Every type has the same shape (see senate.crdt.base):

    c = PNCounter(replica="a"); d = c.increment(5)   # local mutators return a delta
    b = c.fork("b")                                  # new replica id, same state
    b.merge(d); b.merge(c)                           # deltas or whole replicas, any order
    c.value; c.encode(); PNCounter.decode(data)      # canonical msgpack, validated decode

Text (senate.crdt.text) is the sequence CRDT with the same shape.
Causal types (ORSet, EWFlag, DWFlag, MVRegister, CausalLWWRegister, CausalCounter,
ORMap) keep a causal context
(`.context`, a senate.clocks.DotContext) and their deltas carry theirs. DeltaBuffer
ships deltas to peers until they acknowledge them.
"""

from senate.crdt._codec import Element, Scalar
from senate.crdt.base import CRDT
from senate.crdt.causal import CausalCRDT, CausalKind
from senate.crdt.counters import CausalCounter, GCounter, PNCounter
from senate.crdt.delta_buffer import DeltaBatch, DeltaBuffer
from senate.crdt.flags import DWFlag, EWFlag
from senate.crdt.ormap import ORMap
from senate.crdt.registers import CausalLWWRegister, LWWRegister, MVRegister
from senate.crdt.sets import GSet, ORSet, TwoPSet
from senate.crdt.text import Text

__all__ = [
    "CRDT",
    "CausalCRDT",
    "CausalCounter",
    "CausalKind",
    "CausalLWWRegister",
    "DWFlag",
    "DeltaBatch",
    "DeltaBuffer",
    "EWFlag",
    "Element",
    "GCounter",
    "GSet",
    "LWWRegister",
    "MVRegister",
    "ORMap",
    "ORSet",
    "PNCounter",
    "Scalar",
    "Text",
    "TwoPSet",
]
