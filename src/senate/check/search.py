"""Wing & Gong's linearizability search with Lowe's memoization, for one key.

Rules this file keeps:
- This is Porcupine's `checkSingle`, iterative: an explicit stack, no recursion.
- Each operation gives two entries, a call and a return, in one doubly linked list in
  real-time order. Optional operations (model.KeyOp.optional) put their return after
  every definite return: "may take effect any time after the invoke, or never".
- Walking from the head, a call entry is a candidate to linearize next; if the model
  accepts it and (linearized set, new state) was never seen, it is "lifted" out of the
  list (call and return) and the walk restarts at the head. Reaching a definite return
  entry means its operation was not placed in time: undo the last lift and try the next
  candidate. Reaching an optional return (or the end) means every definite operation
  is placed: linearizable.
- The linearized set is a Python int used as a bitset; the cache (Lowe) holds every
  (bitset, state) configuration already explored, so no configuration is searched twice.
- A step budget bounds the work: running out answers "unknown" (None), never hangs.
- While searching, the furthest definite return that blocked the search and the model
  states seen there are remembered: that is where a violation is reported.
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
    is_call = [False] * (end + 1)
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
    # same effect (0 if none). Identical optional ops are used in invoke order only.
    optional = [-1] * n
    last_twin: dict[tuple[int, int, int], int] = {}
    for index in sorted(range(n), key=lambda i: ops[i].call):
        op = ops[index]
        if op.ret is None:
            signature = (op.kind, op.a, op.b)
            optional[index] = last_twin.get(signature, -1) + 1
            last_twin[signature] = index

    optional_mask = sum(bits[i] for i in range(n) if optional[i] >= 0)
    # Failed configs by (definite part, state) -> optional parts (rule 5).
    failed: dict[tuple[int, int], list[int]] = {}
    state = initial
    linearized = 0
    cache: set[tuple[int, int]] = set()
    stack: list[tuple[int, int]] = []  # (lifted call entry, state before it)
    stuck_entry = 0
    stuck_states: set[int] = set()
    steps = 0
    entry = nxt[0]
    while entry != end:
        steps += 1
        if steps > max_steps:
            return _outcome(None, steps - 1, stuck_entry, stuck_states, ent_op)
        if is_call[entry]:
            index = ent_op[entry]
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
            if new_state != ILLEGAL and optional[index] >= 0:
                # Optional ops are placed only where it can matter (rules 3 and 4).
                twin = optional[index]
                if (
                    new_state == state
                    or (twin > 0 and not linearized & bits[twin - 1])
                    or not _observer_waits(nxt, entry, is_call, ent_op, kinds, arg_a, new_state)
                ):
                    new_state = ILLEGAL
            if new_state != ILLEGAL:
                candidate = linearized | bits[index]
                config = (candidate, new_state)
                if config not in cache and not (
                    failed and _dominated(failed, candidate, new_state, optional_mask)
                ):
                    if memoize:
                        cache.add(config)
                    stack.append((entry, state))
                    state = new_state
                    linearized = candidate
                    ret = match[entry]
                    # Lift the call and its return out of the list.
                    nxt[prv[entry]] = nxt[entry]
                    prv[nxt[entry]] = prv[entry]
                    nxt[prv[ret]] = nxt[ret]
                    prv[nxt[ret]] = prv[ret]
                    entry = nxt[0]
                    continue
                if kind != READ or new_state != state:
                    entry = nxt[entry]
                    continue
                # A legal read whose config already failed: every sibling is dominated
                # (see below), so this config fails too. Fall through to backtrack.
            else:
                entry = nxt[entry]
                continue
        else:
            if entry >= first_optional_return:
                break  # only optional operations are left: every definite one is placed
            if entry > stuck_entry:
                stuck_entry = entry
                stuck_states = {state}
            elif entry == stuck_entry and len(stuck_states) < _STUCK_STATES_KEPT:
                stuck_states.add(state)
        # Backtrack. Popping a read that left the state unchanged pops once more: had
        # any sibling succeeded, the same order with the read moved first succeeds
        # too (a read changes nothing, and everything that must precede it is already
        # placed), so after the read failed its siblings need no search.
        while True:
            if optional_mask and memoize:
                _remember_failed(failed, linearized, state, optional_mask)
            if not stack:
                return _outcome(False, steps, stuck_entry, stuck_states, ent_op)
            entry, state = stack.pop()
            index = ent_op[entry]
            linearized ^= bits[index]
            ret = match[entry]
            # Put the return back, then the call (reverse order of the lift).
            nxt[prv[ret]] = ret
            prv[nxt[ret]] = ret
            nxt[prv[entry]] = entry
            prv[nxt[entry]] = entry
            if kinds[index] != READ or arg_a[index] != state:
                break
        entry = nxt[entry]
    return SearchOutcome(True, steps)


def _dominated(
    failed: dict[tuple[int, int], list[int]], linearized: int, state: int, optional_mask: int
) -> bool:
    """Did a config with the same definite ops and state, using a subset of these
    optional ops, already fail? Then this one fails too (it can do less)."""
    tried = failed.get((linearized & ~optional_mask, state))
    if tried is None:
        return False
    used = linearized & optional_mask
    return any(other | used == used for other in tried)


def _remember_failed(
    failed: dict[tuple[int, int], list[int]], linearized: int, state: int, optional_mask: int
) -> None:
    used = linearized & optional_mask
    failed.setdefault((linearized & ~optional_mask, state), []).append(used)


def _observer_waits(
    nxt: list[int],
    skip: int,
    is_call: list[bool],
    ent_op: list[int],
    kinds: list[int],
    arg_a: list[int],
    value: int,
) -> bool:
    """Is a read or cas expecting `value` among the current candidates (but `skip`)?"""
    entry = nxt[0]
    while is_call[entry]:  # candidates end at the first return entry (or the tail)
        if entry != skip:
            index = ent_op[entry]
            if arg_a[index] == value and kinds[index] in (READ, CAS):
                return True
        entry = nxt[entry]
    return False


def _outcome(
    verdict: bool | None, steps: int, stuck_entry: int, states: set[int], ent_op: list[int]
) -> SearchOutcome:
    stuck = ent_op[stuck_entry] if stuck_entry else None
    return SearchOutcome(verdict, steps, stuck, states)
