"""Text: a replicated string (sequence CRDT) ordered by FugueMax, stored as runs.

    from senate.crdt.text import Text
    a = Text(replica="a")
    d = a.insert(0, "hello")     # every local mutator returns a delta (TextDelta)
    a.delete(1, 2)               # -> a delta too
    b = a.fork("b")              # an independent replica, same state, its own id
    b.merge(d); b.merge(a)       # a delta or a whole replica; any order, repeats
    str(a); len(a); a.version    # text, visible length, VersionVector of applied ops
    a.delta_since(b.version)     # what b lacks, as one delta
    raw = a.encode(); Text.decode(raw)
    raw = d.encode(); Text.decode_update(raw)   # or encode_update / decode_update
    a.acknowledge("b", v)        # b has applied version v (b's own `version`, sent back)
    a.compact_stable(["b", "c"]) # compact tombstones at the causally stable cut
    a.pending_count(); a.wanted()  # ops waiting; the seqs they wait for

Positions count Unicode code points. Files: records.py (ops and deltas), runs.py
(document order and lookups), fugue.py (the ordering algorithm), doc.py (the
replica: mutators, merge with causal buffering, deltas, compaction), admit.py (what
a merge applies, keeps waiting or refuses as never valid), codec.py (the binary
format).
"""

from senate.crdt.text.codec import decode_update, encode_update
from senate.crdt.text.doc import Text
from senate.crdt.text.records import DeleteRun, InsertRun, TextDelta

__all__ = ["DeleteRun", "InsertRun", "Text", "TextDelta", "decode_update", "encode_update"]
