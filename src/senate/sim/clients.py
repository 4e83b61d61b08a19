"""Simulated clients: processes issuing read / write / cas / delete on a few keys,
one operation at a time, with timeouts and retries, recording a history.

Rules this file keeps:
- A history op is invoked once and completed once: `ok` (it took effect, with what
  it returned), `fail` (it certainly took no effect) or `info` (unknown).
- A write, cas or delete is one KV Request with a fixed (client id, seq); every
  retry re-sends the same bytes, so the store's session table applies it at most
  once and the client may accept an answer from any attempt.
- NotLeader on an attempt proves that attempt proposed nothing; the client follows
  the leader hint (or tries another node after a short backoff). An attempt that
  timed out or was still open at the deadline may have been proposed, so the op
  ends `info` unless some attempt answered. A compare-and-set whose compare failed
  ends `fail`: it changed nothing.
- A read has no effect, so a read that gets no answer by its deadline is `fail`
  (recording it as `info` would be equally right and only slower to check).
- Written values are unique integers (a counter shared by all clients), which keeps
  the linearizability search small.
- Each client starts every op at its home node (process mod nodes) and follows
  redirects from there, so reads exercise the follower -> leader ReadIndex path.
  The node list may grow (members added mid-run); a node that left the cluster
  is never tried again, and its clients take another home among those left.
- Client <-> node hops take a short, fault-free latency; the faults live between
  the nodes. A request to a crashed node is simply lost (the attempt times out).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from senate.kv import Delete, Put, Request, Result, encode_request
from senate.sim.node import Node, Reply
from senate.sim.scheduler import US_PER_MS, Handle, Scheduler

HistoryEvent = dict[str, Any]


@dataclass(slots=True)
class ClientConfig:
    clients: int = 5
    keys: int = 3
    ops: int = 60  # total over all clients
    hop_us: int = 300  # one way, client <-> node
    think_us: int = 20 * US_PER_MS  # mean pause between a client's ops
    attempt_timeout_us: int = 300 * US_PER_MS
    op_timeout_us: int = 1_500 * US_PER_MS
    backoff_us: int = 20 * US_PER_MS
    mix: tuple[float, float, float, float] = (0.4, 0.35, 0.15, 0.1)  # read/write/cas/delete


@dataclass(slots=True)
class Workload:
    """What all clients share: the op budget, unique values and the history."""

    config: ClientConfig
    sched: Scheduler
    history: list[HistoryEvent] = field(default_factory=list)
    issued: int = 0
    completed: int = 0
    next_value: int = 1
    written: dict[str, list[int]] = field(default_factory=dict)  # key -> values invoked
    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "fail": 0, "info": 0})
    ok_after: int = 0  # ops that ended ok after `quiet_from`
    quiet_from: int | None = None

    def record(self, process: int, type_: str, f: str, key: str, value: object) -> None:
        self.history.append(
            {
                "process": process,
                "type": type_,
                "f": f,
                "key": key,
                "value": value,
                "time": self.sched.now / 1e6,
            }
        )
        if type_ != "invoke":
            self.completed += 1
            self.counts[type_] += 1
            if type_ == "ok" and self.quiet_from is not None and self.sched.now >= self.quiet_from:
                self.ok_after += 1

    @property
    def done(self) -> bool:
        return self.completed >= self.config.ops


@dataclass(slots=True)
class _Op:
    f: str
    key: str
    value: object  # what the history's invoke carries
    data: bytes  # the encoded request (writes) or b"" (reads)
    deadline: Handle | None = None
    attempt: Handle | None = None
    attempts: int = 0
    maybe_applied: bool = False
    open_attempt: bool = False  # an attempt is out with no answer yet


@dataclass(slots=True)
class Client:
    process: int
    nodes: list[Node]
    load: Workload
    rng: random.Random
    seq: int = 0
    leader_guess: int = 0
    op: _Op | None = None
    op_id: int = 0
    home_index: int = -1  # process mod the nodes there were at the start

    def __post_init__(self) -> None:
        self.home_index = self.process % len(self.nodes)

    @property
    def client_id(self) -> str:
        return f"c{self.process}"

    @property
    def home(self) -> int:
        """The node this client talks to first for every op (as a Jepsen client is
        bound to one node): reads then also take the follower -> leader path."""
        if not self.nodes[self.home_index].removed:
            return self.home_index
        live = self._live()
        return live[self.process % len(live)] if live else self.home_index

    def _live(self) -> list[int]:
        return [i for i, node in enumerate(self.nodes) if not node.removed]

    def _others(self) -> list[int]:
        return [i for i in self._live() if i != self.leader_guess]

    def start(self) -> None:
        self._think()

    def _think(self) -> None:
        cfg = self.load.config
        delay = int(self.rng.expovariate(1.0 / cfg.think_us)) if cfg.think_us else 0
        self.load.sched.after(delay, f"client {self.process} next", self._next_op)

    def _next_op(self) -> None:
        load = self.load
        if load.issued >= load.config.ops:
            return
        load.issued += 1
        self.op_id += 1
        op = self._draw()
        self.op = op
        self.leader_guess = self.home
        load.record(self.process, "invoke", op.f, op.key, op.value)
        op.deadline = load.sched.after(
            load.config.op_timeout_us,
            f"client {self.process} deadline",
            self._guard(self._on_deadline),
        )
        self._attempt()

    def _draw(self) -> _Op:
        load = self.load
        rng = self.rng
        key = f"k{rng.randrange(load.config.keys)}"
        f = rng.choices(("read", "write", "cas", "delete"), weights=load.config.mix)[0]
        if f == "read":
            return _Op("read", key, None, b"")
        self.seq += 1
        if f == "delete":
            req = Request(self.client_id, self.seq, Delete(key))
            return _Op("delete", key, None, encode_request(req))
        new = load.next_value
        load.next_value += 1
        seen = load.written.setdefault(key, [])
        if f == "write" or not seen:
            seen.append(new)
            req = Request(self.client_id, self.seq, Put(key, str(new).encode()))
            return _Op("write", key, new, encode_request(req))
        old = rng.choice(seen[-3:])
        seen.append(new)
        req = Request(
            self.client_id, self.seq, Put(key, str(new).encode(), prev_value=str(old).encode())
        )
        return _Op("cas", key, [old, new], encode_request(req))

    def _guard(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Run `fn` only if the op it was made for is still the current one."""
        op_id = self.op_id

        def run() -> None:
            if self.op is not None and self.op_id == op_id:
                fn()

        return run

    def _attempt(self, target: int | None = None) -> None:
        op = self.op
        assert op is not None
        cfg = self.load.config
        sched = self.load.sched
        if target is not None:
            self.leader_guess = target
        node = self.nodes[self.leader_guess]
        op.attempts += 1
        if op.f != "read":
            op.open_attempt = True
        reply = self._reply_fn(op.attempts)
        if op.f == "read":
            ctx = f"{self.client_id}/{self.op_id}/{op.attempts}".encode()
            key = op.key

            def send() -> None:
                node.submit_read(ctx, key, reply)
        else:
            data = op.data

            def send() -> None:
                node.submit_write(data, reply)

        sched.after(cfg.hop_us, f"client {self.process} > {node.id} {op.f}", send)
        if op.attempt is not None:
            op.attempt.cancel()
        op.attempt = sched.after(
            cfg.attempt_timeout_us,
            f"client {self.process} attempt timeout",
            self._guard(self._on_attempt_timeout),
        )

    def _reply_fn(self, attempt: int) -> Callable[[Reply], None]:
        op_id = self.op_id
        sched = self.load.sched
        hop = self.load.config.hop_us

        def on_reply(reply: Reply) -> None:
            # The answer travels back to the client before it counts.
            def arrive() -> None:
                if self.op is not None and self.op_id == op_id:
                    self._on_reply(reply, attempt)

            sched.after(hop, f"client {self.process} < {reply.kind}", arrive)

        return on_reply

    def _on_reply(self, reply: Reply, attempt: int) -> None:
        op = self.op
        assert op is not None
        if reply.kind == "ok":
            assert reply.result is not None
            self._complete_write(op, reply.result)
        elif reply.kind == "value":
            kv = reply.value
            value = int(kv.value.decode()) if kv is not None else None
            self._finish("ok", value)
        elif attempt == op.attempts:
            # Not the leader: this attempt proposed nothing. Follow the hint.
            # (A refusal of an older attempt says nothing about the open one.)
            op.open_attempt = False
            hint = self._index_of(reply.leader)
            if hint is not None and hint != self.leader_guess:
                self._attempt(hint)
            else:
                self._retry_later()

    def _complete_write(self, op: _Op, result: Result) -> None:
        if result.error is not None:
            self._finish("info", op.value)
        elif op.f == "cas" and not result.succeeded:
            self._finish("fail", op.value)
        else:
            self._finish("ok", op.value)

    def _retry_later(self) -> None:
        op = self.op
        assert op is not None
        if op.attempt is not None:
            op.attempt.cancel()
        others = self._others()
        target = self.rng.choice(others) if others else self.leader_guess
        op.attempt = self.load.sched.after(
            self.load.config.backoff_us,
            f"client {self.process} backoff",
            self._guard(lambda: self._attempt(target)),
        )

    def _on_attempt_timeout(self) -> None:
        op = self.op
        assert op is not None
        if op.open_attempt:
            op.maybe_applied = True
        others = self._others()
        self._attempt(self.rng.choice(others) if others else None)

    def _on_deadline(self) -> None:
        op = self.op
        assert op is not None
        if op.f == "read":
            self._finish("fail", None)
        else:
            self._finish("info" if op.maybe_applied or op.open_attempt else "fail", op.value)

    def _finish(self, type_: str, value: object) -> None:
        op = self.op
        assert op is not None
        for handle in (op.deadline, op.attempt):
            if handle is not None:
                handle.cancel()
        self.op = None
        self.load.record(self.process, type_, op.f, op.key, value)
        self._think()

    def _index_of(self, node_id: str | None) -> int | None:
        for i, node in enumerate(self.nodes):
            if node.id == node_id:
                return None if node.removed else i
        return None
