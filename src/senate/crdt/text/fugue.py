"""FugueMax: where a remote insert goes, so that every replica agrees on the order.

The algorithm is FugueMax from Weidner, Gentle and Kleppmann, "The Art of the Fugue:
Minimizing Interleaving in Collaborative Text Editing" (2023). The paper states it as
a tree; this is its list form, the integration Gentle calls YjsMod (reference-crdts,
nano-listy-fuguemax, diamond-types), which keeps the document as a flat sequence and
finds a new character's place by one forward scan. tests/crdt/test_text_fugue.py
checks this file against that algorithm written per character, the slow obvious
way. Each character carries two origins, fixed when it is
typed: `left`, the character just before the insertion point, and `right`, the one
just after it (either may be a tombstone; None means the document's start or end).

Integrating character X with origins (L, R): X goes somewhere strictly between L and
R. Whatever already sits between them is concurrent with X (L and R were neighbours
for X's author). Scan those characters O left to right, with `scanning` false:

    O's left origin is before L          -> stop: X goes at the remembered place
    O's left origin is after L           -> O belongs to a subtree we pass; go on
    O's left origin is L:
        O's right origin == R            -> a true tie: smaller replica id first;
                                            if X's replica id is smaller, stop,
                                            else go on with scanning = false
        O's right origin before R        -> go on, scanning = true (X may belong
                                            after O's whole subtree, or before O)
        O's right origin after R         -> go on, scanning = false

where "the remembered place" is updated to just before O at every step that starts
with scanning false; reaching R also stops. Ties broken by the *right* origin, not
only by the left one as in YATA, are what make a run typed by one user stay in one
piece when it is concurrent with another run at the same place: a whole subtree is
placed before or after a concurrent subtree, never between its characters.

Runs. The characters of one run after the first all have the previous character as
left origin, so the scan passes over them ("left origin after L") and never stops
inside a run; so the scan can step run by run, and a whole incoming run can be
placed as one unit: its later characters follow its first one directly.

"Before L" / "after L" and "before R" / "after R" are decided without positions: a
character's left origin is always before it and its right origin always after it, so
for O between L and R, O's left origin is after L exactly when it lies in the region
(L, R), and O's right origin is before R exactly when it lies in that region too.
"""

from __future__ import annotations

from senate.crdt.text.records import InsertRun
from senate.crdt.text.runs import Run, RunList

# Runs grow in place up to this many characters: `str +=` on an attribute copies, so an
# unbounded run would make long sequential typing quadratic. Encoding coalesces anyway.
EXTEND_MAX = 1024


def integrate(rl: RunList, op: InsertRun, text: str) -> Run:
    """Put `op` (whose origins are both present) into `rl`; return its run.

    `text` is the op's content after any trimming done by the caller. The returned
    run may be an existing run that was extended in place.
    """
    left, right = op.left, op.right
    lrun = rl.run_ending_at(left) if left is not None else None
    rrun = rl.run_starting_at(right) if right is not None else None

    region: list[Run] = []
    for r in rl.iter_after(lrun):
        if r is rrun:
            break
        region.append(r)

    dest = 0
    if region:
        in_region = {id(r) for r in region}
        scanning = False
        for i, o in enumerate(region):
            if not scanning:
                dest = i
            ol = o.left
            if ol == left:
                orr = o.right
                if orr == right:
                    if op.agent < o.agent:
                        break
                    scanning = False
                elif orr is None:
                    scanning = False  # O's right origin is the end: after R
                else:
                    orun = rl.find_id(orr[0], orr[1])
                    scanning = orun is not None and id(orun) in in_region
                continue
            if ol is None:
                break  # O's left origin is the start: before L (L is not the start)
            olrun = rl.find_id(ol[0], ol[1])
            if olrun is not None and id(olrun) in in_region:
                continue
            break
        else:
            if not scanning:
                dest = len(region)

    prev = region[dest - 1] if dest > 0 else lrun
    # Extend the run we land after when the new characters continue it exactly.
    if (
        prev is not None
        and prev.agent == op.agent
        and prev.seq + prev.length == op.seq
        and prev.deleted == op.deleted
        and prev.right == right
        and left == (prev.agent, prev.seq + prev.length - 1)
        and prev.length < EXTEND_MAX
    ):
        rl.extend(prev, text, op.length)
        return prev
    run = Run(op.agent, op.seq, op.length, text, op.deleted, left, right)
    rl.insert_after(prev, run)
    return run
