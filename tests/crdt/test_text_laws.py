"""Hypothesis properties of Text: the join laws, delta = state, convergence, no interleaving.

States are built by random editing sessions among three replicas that sync now and
then, so they share history and also hold concurrent edits. Two states are compared
by their text and by their canonical encoding (order, ids, origins, tombstones,
version and delete log all included), so a law holds only if the whole state agrees.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from senate.crdt.text import Text, TextDelta

REPLICAS = ["a", "b", "c"]
ALPHABET = "xyz é😀"

edit = st.one_of(
    st.tuples(st.just("ins"), st.sampled_from(REPLICAS), st.floats(0, 1),
              st.text(ALPHABET, min_size=1, max_size=4)),
    st.tuples(st.just("del"), st.sampled_from(REPLICAS), st.floats(0, 1),
              st.integers(1, 3)),
    st.tuples(st.just("sync"), st.sampled_from(REPLICAS), st.sampled_from(REPLICAS),
              st.booleans()),
)
session = st.lists(edit, max_size=30)


@dataclass
class Run:
    replicas: dict[str, Text]
    deltas: list[TextDelta]


def play(actions: list[tuple[object, ...]]) -> Run:
    reps = {r: Text(r) for r in REPLICAS}
    deltas: list[TextDelta] = []
    for act in actions:
        kind = act[0]
        if kind == "ins":
            _, r, frac, text = act
            doc = reps[str(r)]
            assert isinstance(frac, float) and isinstance(text, str)
            deltas.append(doc.insert(round(frac * len(doc)), text))
        elif kind == "del":
            _, r, frac, n = act
            doc = reps[str(r)]
            assert isinstance(frac, float) and isinstance(n, int)
            if len(doc):
                pos = min(round(frac * len(doc)), len(doc) - 1)
                deltas.append(doc.delete(pos, min(n, len(doc) - pos)))
        else:
            _, dst, src, whole = act
            if whole:
                reps[str(dst)].merge(reps[str(src)])
            else:
                reps[str(dst)].merge(reps[str(src)].delta_since(reps[str(dst)].version))
    return Run(reps, deltas)


def copy(doc: Text) -> Text:
    return Text.decode(doc.encode())


def same(x: Text, y: Text) -> bool:
    return str(x) == str(y) and x.canonical() == y.canonical()


def join(*docs: Text) -> Text:
    out = copy(docs[0])
    for d in docs[1:]:
        out.merge(d)
    return out


@settings(max_examples=150, deadline=None)
@given(session)
def test_merge_is_commutative(actions: list[tuple[object, ...]]) -> None:
    reps = play(actions).replicas
    assert same(join(reps["a"], reps["b"]), join(reps["b"], reps["a"]))


@settings(max_examples=150, deadline=None)
@given(session)
def test_merge_is_associative(actions: list[tuple[object, ...]]) -> None:
    a, b, c = play(actions).replicas.values()
    assert same(join(join(a, b), c), join(a, join(b, c)))


@settings(max_examples=150, deadline=None)
@given(session)
def test_merge_is_idempotent(actions: list[tuple[object, ...]]) -> None:
    a, b, _ = play(actions).replicas.values()
    assert same(join(a, a), a)
    ab = join(a, b)
    assert same(join(ab, b), ab)
    assert same(join(ab, a), ab)


@settings(max_examples=150, deadline=None)
@given(session, session, st.sampled_from(REPLICAS))
def test_merging_a_delta_equals_merging_its_state(
    history: list[tuple[object, ...]], more: list[tuple[object, ...]], who: str
) -> None:
    run = play(history)
    source = run.replicas[who]
    other = run.replicas["b" if who != "b" else "c"]
    seen = join(other, source)  # a replica that has the source's state before the op
    for act in more:
        if act[0] == "sync":
            continue
        before = copy(source)
        frac = act[2]
        assert isinstance(frac, float)
        if act[0] == "ins":
            assert isinstance(act[3], str)
            d = source.insert(round(frac * len(source)), act[3])
        elif len(source):
            pos = min(round(frac * len(source)), len(source) - 1)
            assert isinstance(act[3], int)
            d = source.delete(pos, min(act[3], len(source) - pos))
        else:
            continue
        via_delta = copy(seen)
        via_delta.merge(d)
        via_state = copy(seen)
        via_state.merge(source)
        assert same(via_delta, via_state)
        assert same(join(before, d), copy(source))
        seen = via_state


@settings(max_examples=100, deadline=None)
@given(session, st.randoms(use_true_random=False))
def test_any_order_with_duplicates_and_repaired_losses_converges(
    actions: list[tuple[object, ...]], rnd: random.Random
) -> None:
    run = play(actions)
    reference = Text("ref")
    for d in run.deltas:
        reference.merge(d)
    full = join(*run.replicas.values())
    assert same_state(reference, full)

    for name in ("p", "q"):
        doc = Text(name)
        shuffled = [d for d in run.deltas for _ in range(rnd.randint(0, 2))]  # 0: lost
        rnd.shuffle(shuffled)
        for d in shuffled:
            doc.merge(d)
        doc.merge(full.delta_since(doc.version))  # the repair: re-send what is missing
        assert doc.pending_count() == 0
        assert same_state(doc, full)


def same_state(x: Text, y: Text) -> bool:
    return str(x) == str(y) and x.canonical() == y.canonical()


def typed(doc: Text, pos: int, word: str, backward: bool = False) -> list[TextDelta]:
    """Type `word` at `pos` a character at a time: left to right, or right to left
    (each keystroke at `pos`, the cursor staying put, as with a Home-key habit)."""
    if backward:
        return [doc.insert(pos, ch) for ch in reversed(word)]
    return [doc.insert(pos + i, ch) for i, ch in enumerate(word)]


words = st.text("abcdefgh", min_size=2, max_size=8)


@settings(max_examples=200, deadline=None)
@given(
    st.text("0123456789", max_size=10), st.floats(0, 1), words, words, st.booleans(),
    st.booleans(), st.booleans(),
)
def test_concurrent_runs_at_one_place_do_not_interleave(
    base: str, frac: float, w1: str, w2: str, keystrokes_in_reverse: bool, back1: bool,
    back2: bool,
) -> None:
    a = Text("a")
    a.insert(0, base)
    b = a.fork("b")
    pos = round(frac * len(base))
    da, db = typed(a, pos, w1.upper(), back1), typed(b, pos, w2, back2)
    if keystrokes_in_reverse:
        da.reverse()
        db.reverse()
    for d in db:
        a.merge(d)
    for d in da:
        b.merge(d)
    assert str(a) == str(b)
    assert w1.upper() in str(a) and w2 in str(a), str(a)
    assert str(a).replace(w1.upper(), "").replace(w2, "") == base


def test_friendsforever_style_typing_stays_contiguous() -> None:
    # The trace in which Yjs (pycrdt) turns ", huh?" into ", hh?u": two users each
    # type at the end of the same text, concurrently, a keystroke at a time.
    a = Text("a")
    a.insert(0, "well")
    b = a.fork("b")
    da = typed(a, 4, ", huh?")
    db = typed(b, 4, " then")
    for d in da:
        b.merge(d)
    for d in db:
        a.merge(d)
    assert str(a) == str(b)
    assert str(a) in ("well, huh? then", "well then, huh?")
