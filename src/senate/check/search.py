"""Wing & Gong's linearizability search with Lowe's memoization, for one key.

Rules this file keeps:
- This is Porcupine's `checkSingle`, iterative: an explicit stack, no recursion.
- Each operation gives two entries, a call and a return, in one doubly linked list in
  real-time order. Optional operations (model.KeyOp.optional) put their return after
  every definite return: "may take effect any time after the invoke, or never".
- Walking from the head, each call entry before the first return entry is a candidate
  to place next; if the model accepts it and the configuration (placed set, state) is
  new, it is "lifted" out of the list (call and return) and the walk restarts at the
  head. Reaching a definite return entry means its operation was not placed in time:
  undo the last lift and try the next candidate. Reaching an optional return (or the
  end) means every definite operation is placed: linearizable.
- The placed set is a Python int used as a bitset; Lowe's cache holds every
  configuration already explored, so no configuration is searched twice.
- A step budget bounds the work: running out answers "unknown" (None), never hangs.
- The furthest definite return that blocked the search, and the model states seen
  there, are remembered: that is where a violation is reported.

Pruning (each rule drops only configurations that cannot succeed unless one that is
still searched also can; without them Python could not prove long histories wrong):
1. Eager reads. A candidate read that is legal now is placed first, and when it is
   undone its siblings are not tried: any order placing a sibling first can place the
   read first instead (a read changes nothing; all that must precede it is placed).
2. An optional op is placed only if it changes the value and a candidate observes the
   new value (a read of it, a cas expecting it). In any order that places it elsewhere,
   what follows it overwrites or ignores its value, so it can be left out.
3. Optional ops with the same effect are interchangeable once invoked: they are used in
   invoke order only, so which of them were used never splits configurations.
4. Each walk tries the definite candidates first and the optional ones in a second
   pass (only the order changes). Optional ops are rarely needed; trying them first
   sends the search through many configurations that use them needlessly (measured:
   over 20x more steps to prove the 3-key stale-read bench history wrong).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from senate.check.model import ABSENT, ANY, CAS, DELETE, ILLEGAL, READ, KeyOp

_STUCK_STATES_KEPT = 8


@dataclass(slots=True)
class SearchOutcome:
    """`linearizable` is None when the step budget ran out.

    `stuck` indexes the operation (in the searched sequence) whose return blocked the
    search furthest into the history; `stuck_states` are model states seen there.
    """

    linearizable: bool | None
    steps: int
    stuck: int | None = None
    stuck_states: set[int] = field(default_factory=set)


def search(
    ops: Sequence[KeyOp], *, max_steps: int, initial: int = ABSENT, memoize: bool = True
) -> SearchOutcome:
    """Is there a legal order of `ops` consistent with real time? (see module rules)

    `memoize=False` turns Lowe's cache off: only for the benchmark's baseline.
    """
    n = len(ops)
    if n == 0:
        return SearchOutcome(True, 0)
    # Sort entries by position; optional returns go after every definite position.
    beyond = 1 + max(max(op.call, op.ret or 0) for op in ops)
    order = []
    for index, op in enumerate(ops):
        order.append((op.call, index, True))
        order.append((op.ret if op.ret is not None else beyond + op.call, index, False))
    order.sort()

    end = 2 * n + 1  # entry 0 is the head sentinel, entry `end` the tail sentinel
    nxt = [*range(1, end + 1), end]
    prv = [0, *range(0, end)]
    ent_op = [0] * (end + 1)
    is_call = [False] * (end + 1)  # False for both sentinels: walks stop at the tail
    match = [0] * (end + 1)
    return_entry = [0] * n
    first_optional_return = end
    for entry, (_, index, call) in enumerate(order, start=1):
        ent_op[entry] = index
        is_call[entry] = call
        if not call:
            return_entry[index] = entry
            if ops[index].ret is None and entry < first_optional_return:
                first_optional_return = entry
    for entry in range(1, end):
        if is_call[entry]:
            match[entry] = return_entry[ent_op[entry]]
    kinds = [op.kind for op in ops]
    arg_a = [op.a for op in ops]
    arg_b = [op.b for op in ops]
    bits = [1 << i for i in range(n)]
    # optional[i]: -1 for a definite op; else 1 + the previous optional op with the
    # same effect, 0 if none (rule 3).
    optional = [-1] * n
    last_twin: dict[tuple[int, int, int], int] = {}
    for index in sorted(range(n), key=lambda i: ops[i].call):
        op = ops[index]
        if op.ret is None:
            signature = (op.kind, op.a, op.b)
            optional[index] = last_twin.get(signature, -1) + 1
            last_twin[signature] = index
    has_optional = any(twin >= 0 for twin in optional)
    # waiting[v]: observers (reads, cases) of value v not yet placed; a cheap filter
    # before rule 2 scans the candidates.
    waiting = [0] * (2 + max(max(arg_a), max(arg_b)))
    for index in range(n):
        if kinds[index] == READ or kinds[index] == CAS:
            waiting[arg_a[index]] += 1

    state = initial
    linearized = 0
    cache: set[tuple[int, int]] = set()
    stack: list[tuple[int, int, bool]] = []  # (lifted call entry, state before, phase)
    stuck_entry = 0
    stuck_states: set[int] = set()
    steps = 0
    late = False  # rule 4: the walk's second pass, over optional candidates only
    entry = _eager_read(nxt, is_call, ent_op, kinds, arg_a, state)
    while entry != end:
        steps += 1
        if steps > max_steps:
            return _outcome(None, steps - 1, stuck_entry, stuck_states, ent_op)
        if is_call[entry]:
            index = ent_op[entry]
            twin = optional[index]
            if (twin >= 0) is not late:
                entry = nxt[entry]
                continue
            # The model's step, inlined: this loop is the checker's hot path.
            kind = kinds[index]
            if kind == READ:
                # From ANY (unknown initial value) the read fixes what the value was.
                new_state = arg_a[index] if state == arg_a[index] or state == ANY else ILLEGAL
            elif kind == CAS:
                new_state = arg_b[index] if state == arg_a[index] or state == ANY else ILLEGAL
            elif kind == DELETE:
                new_state = ABSENT
            else:
                new_state = arg_a[index]
            if (
                late
                and new_state != ILLEGAL
                and (
                    new_state == state  # rule 2: no change
                    or (twin > 0 and not linearized & bits[twin - 1])  # rule 3
                    or not waiting[new_state]  # rule 2: nobody left to observe it
                    or not _observer_waits(nxt, entry, is_call, ent_op, kinds, arg_a, new_state)
                )
            ):
                new_state = ILLEGAL
            if new_state == ILLEGAL:
                entry = nxt[entry]
                continue
            candidate = linearized | bits[index]
            config = (candidate, new_state)
            if config not in cache:
                if memoize:
                    cache.add(config)
                stack.append((entry, state, late))
                late = False
                state = new_state
                linearized = candidate
                if kind in (READ, CAS):
                    waiting[arg_a[index]] -= 1
                ret = match[entry]
                # Lift the call and its return out of the list.
                nxt[prv[entry]] = nxt[entry]
                prv[nxt[entry]] = prv[entry]
                nxt[prv[ret]] = nxt[ret]
                prv[nxt[ret]] = prv[ret]
                entry = _eager_read(nxt, is_call, ent_op, kinds, arg_a, state)
                continue
            if kind != READ or new_state != state:
                entry = nxt[entry]
                continue
            # A legal read whose configuration already failed: by rule 1 so does this
            # configuration. Fall through to backtrack.
        elif entry >= first_optional_return:
            break  # only optional operations are left: every definite one is placed
        elif not late and has_optional:
            late = True
            entry = nxt[0]
            continue
        elif entry > stuck_entry:
            stuck_entry = entry
            stuck_states = {state}
        elif entry == stuck_entry and len(stuck_states) < _STUCK_STATES_KEPT:
            stuck_states.add(state)
        # Backtrack; after undoing a read, undo once more (rule 1: no siblings).
        while True:
            if not stack:
                return _outcome(False, steps, stuck_entry, stuck_states, ent_op)
            entry, state, late = stack.pop()
            index = ent_op[entry]
            linearized ^= bits[index]
            kind = kinds[index]
            if kind in (READ, CAS):
                waiting[arg_a[index]] += 1
            ret = match[entry]
            # Put the return back, then the call (reverse order of the lift).
            nxt[prv[ret]] = ret
            prv[nxt[ret]] = ret
            nxt[prv[entry]] = entry
            prv[nxt[entry]] = entry
            if kind != READ or arg_a[index] != state:
                break
        entry = nxt[entry]
    return SearchOutcome(True, steps)


def _eager_read(
    nxt: list[int],
    is_call: list[bool],
    ent_op: list[int],
    kinds: list[int],
    arg_a: list[int],
    state: int,
) -> int:
    """Where the walk starts: a candidate read legal in `state` (rule 1), else the head."""
    entry = nxt[0]
    while is_call[entry]:
        index = ent_op[entry]
        if arg_a[index] == state and kinds[index] == READ:
            return entry
        entry = nxt[entry]
    return nxt[0]


def _observer_waits(
    nxt: list[int],
    skip: int,
    is_call: list[bool],
    ent_op: list[int],
    kinds: list[int],
    arg_a: list[int],
    value: int,
) -> bool:
    """Rule 2: is a read or cas expecting `value` among the candidates (but `skip`)?"""
    entry = nxt[0]
    while is_call[entry]:
        if entry != skip:
            index = ent_op[entry]
            if arg_a[index] == value and (kinds[index] == READ or kinds[index] == CAS):
                return True
        entry = nxt[entry]
    return False


def _outcome(
    verdict: bool | None, steps: int, stuck_entry: int, states: set[int], ent_op: list[int]
) -> SearchOutcome:
    stuck = ent_op[stuck_entry] if stuck_entry else None
    return SearchOutcome(verdict, steps, stuck, states)
