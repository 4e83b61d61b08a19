"""Active-active CRDT keyspace over the Redis protocol (in the spirit of Redis Enterprise
Active-Active): every replica accepts writes with no coordination; ops replicate as
deltas with causal delivery and anti-entropy; every replica converges.

Conflict rules (each is kept by the file named):
- strings (cell.py, values.py): SET is a register write; of concurrent SETs the largest
  (HLC, replica id) wins, and a SET that observed another always replaces it (LWW by
  causality, then HLC, then replica id);
- counters (cell.py, values.py): INCR/INCRBY/DECR/DECRBY/INCRBYFLOAT add to the string's
  counter: concurrent increments add up. A string's value is its last SET value (the
  base, 0 if none) plus every increment the last SET did not observe: SET "10" then
  INCR reads 11, and a SET concurrent with an INCR keeps the INCR on top of the new
  value (when both are numbers; a text value hides the counter). INCR answers Redis's
  "value is not an integer or out of range" and "increment or decrement would
  overflow" from the local value; concurrent increments may sum past int64 and then
  GET shows the exact sum;
- DEL (keys.py) removes what it observed: a write concurrent with a DEL survives it,
  and a counter increment concurrent with a DEL counts from zero;
- sets and hash fields (containers.py): add-wins, observed-remove (a concurrent SADD
  and SREM of one element leaves it present; HSET vs HDEL keeps the HSET);
- sorted sets (containers.py): members add-wins; ZADD writes the score as a register
  (LWW) and resets the ZINCRBY counter it observed; concurrent ZINCRBYs add up;
- expiry (keys.py): of concurrent EXPIREs the longest wins; PERSIST beats concurrent
  EXPIREs; a later (causally) EXPIRE or PERSIST replaces what it observed; SET without
  KEEPTTL clears the expiry it observed; EXPIRE's NX/XX/GT/LT (and SET NX/XX, ZADD
  NX/XX/GT/LT) judge the replica's local view, and what they write then merges as above;
- type conflicts (keys.py): if concurrent writes of different types (say SET and SADD)
  leave a key with live values of two types, the type whose latest live write has the
  largest HLC is the key's type (ties: string, hash, set, zset); the others stay hidden
  until a write that observes them (SET, DEL) removes them. Writes of another type than
  the visible one answer WRONGTYPE, as in Redis.

Replica identity (replication.py, "Origins"): ops are named by dots of an origin id per
incarnation of a replica's data dir, so a wiped replica never reuses a dot.

Entry points: ActiveActiveService (service.py) for a node to embed, and
`python -m senate.activeactive` for a standalone replica with its own transport.
"""

from senate.activeactive.messages import KIND, CrdtMessage, register_crdt_messages
from senate.activeactive.service import ActiveActiveService

__all__ = ["KIND", "ActiveActiveService", "CrdtMessage", "register_crdt_messages"]
