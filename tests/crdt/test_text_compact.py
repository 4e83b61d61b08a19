"""Compaction at a quiescent cut changes nothing anyone can observe, and frees memory.
(Compaction at a stable cut that moves under concurrent edits: test_text_stability.py.)"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from senate.crdt.text import Text

REPLICAS = ["a", "b", "c"]
edit = st.one_of(
    st.tuples(st.just("ins"), st.sampled_from(REPLICAS), st.floats(0, 1),
              st.text("pqr", min_size=1, max_size=3)),
    st.tuples(st.just("del"), st.sampled_from(REPLICAS), st.floats(0, 1), st.integers(1, 4)),
    st.tuples(st.just("sync"), st.sampled_from(REPLICAS), st.sampled_from(REPLICAS), st.just(0)),
)


def play(reps: dict[str, Text], actions: list[tuple[str, str, object, object]]) -> None:
    for kind, r, x, y in actions:
        doc = reps[r]
        if kind == "ins":
            assert isinstance(x, float) and isinstance(y, str)
            doc.insert(round(x * len(doc)), y)
        elif kind == "del" and len(doc):
            assert isinstance(x, float) and isinstance(y, int)
            pos = min(round(x * len(doc)), len(doc) - 1)
            doc.delete(pos, min(y, len(doc) - pos))
        elif kind == "sync":
            assert isinstance(x, str)
            doc.merge(reps[x].delta_since(doc.version))


def sync_all(reps: dict[str, Text]) -> None:
    for doc in reps.values():
        for other in reps.values():
            doc.merge(other.delta_since(doc.version))


@settings(max_examples=150, deadline=None)
@given(st.lists(edit, max_size=30), st.lists(edit, max_size=30))
def test_compacting_at_a_quiescent_cut_is_invisible(
    before: list[tuple[str, str, object, object]], after: list[tuple[str, str, object, object]]
) -> None:
    kept = {r: Text(r) for r in REPLICAS}  # never compacted
    play(kept, before)
    sync_all(kept)
    compacted = {r: Text.decode(doc.encode()) for r, doc in kept.items()}
    cut = kept["a"].version
    for doc in compacted.values():
        assert doc.version == cut
        runs = doc.run_count()
        doc.compact(cut)
        assert doc.run_count() <= runs
        assert str(doc) == str(kept[doc.replica])
        # every delete is at or before the cut: every tombstone is a placeholder
        # (no origins) and the delete log is empty
        assert all(r.left is None and r.right is None for r in doc._rl.runs() if r.deleted)
        assert not doc._dels
    assert len({doc.canonical() for doc in compacted.values()}) == 1

    play(kept, after)  # the same edits, at the same visible positions, on both worlds
    play(compacted, after)
    sync_all(kept)
    sync_all(compacted)
    for r in REPLICAS:
        assert str(compacted[r]) == str(kept[r])
        assert compacted[r].version == kept[r].version
