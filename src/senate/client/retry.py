"""Failover and retries: which endpoint to ask, how long to wait, what to raise.

Rules this file keeps:
- Pure bookkeeping, shared by the sync and async clients: no sockets; the clock
  and the random source are injected so the unit tests can drive them.
- An attempt fails in one of three ways (Outcome): it surely did not reach a node
  (NOT_SENT: connection refused), a node refused it without carrying it out
  (REFUSED: 503), or it may have run (UNKNOWN: 504, a timeout or a dropped
  connection after sending). Every failure moves to the next endpoint; after a
  full round of failures the client backs off (exponential, jittered, capped).
- A READ is retried after any failure and a WRITE too, because its session
  (client id, seq) is the same on every retry and the server applies it once.
  A ONCE call is never retried after UNKNOWN: it raises OutcomeUnknown at once.
- When the budget (attempts and a deadline) runs out the call raises
  OutcomeUnknown if any attempt of a non-READ call may have run, else Unavailable.
- Sessions: the server remembers one (last seq, result) per client id, so two
  writes of one client id in flight at once would make the older one stale. Each
  write therefore takes a *lane* for its lifetime: lane 0 is the client's own id,
  and a concurrent write gets lane k, id "<client id>.<k>", each lane counting its
  own seq. A sequential caller only ever uses the client's id.
"""

from __future__ import annotations

import enum
import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from senate.client.calls import Kind
from senate.client.errors import BadRequest, ClientError, OutcomeUnknown, Unavailable

# The endpoints `senate up` serves with its default base port (cli/up_cmd.py:
# HTTP on 127.0.0.1:base+1000+i); a test checks the two agree.
DEFAULT_ENDPOINTS = ("http://127.0.0.1:8101", "http://127.0.0.1:8102", "http://127.0.0.1:8103")
ENDPOINTS_ENV = "SENATE_ENDPOINTS"


def parse_endpoints(endpoints: str | Sequence[str] | None) -> tuple[str, ...]:
    """Base URLs from a comma-separated string or a list; None: $SENATE_ENDPOINTS or
    the `senate up` defaults. A bare host:port gets http:// in front."""
    if endpoints is None:
        endpoints = os.environ.get(ENDPOINTS_ENV) or DEFAULT_ENDPOINTS
    items = endpoints.split(",") if isinstance(endpoints, str) else list(endpoints)
    urls: list[str] = []
    for raw in items:
        url = raw.strip().rstrip("/")
        if not url:
            continue
        if "://" not in url:
            url = "http://" + url
        if not url.startswith("http://"):
            raise BadRequest(f"endpoint {raw!r}: only http:// URLs are supported")
        if url not in urls:
            urls.append(url)
    if not urls:
        raise BadRequest("no endpoint given")
    return tuple(urls)


class Outcome(enum.Enum):
    NOT_SENT = "not sent"
    REFUSED = "refused"
    UNKNOWN = "unknown"


class AttemptFailed(Exception):
    """Raised by a transport when an attempt got no HTTP answer."""

    def __init__(self, outcome: Outcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass(slots=True, frozen=True)
class RetryPolicy:
    # The deadline is the real bound (long enough to ride out a leader election:
    # about ten rounds over three endpoints); attempts only cap a burst of
    # instant failures.
    attempts: int = 30  # per logical call, the first included
    deadline: float = 15.0  # seconds per logical call, waits included
    base_delay: float = 0.05
    max_delay: float = 1.0

    def backoff(self, round_no: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2.0**round_no)
        return ceiling * (0.5 + rng.random() / 2)  # jitter: clients do not retry in step


class Endpoints:
    """The base URLs and which one to ask next (the leader, when known)."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = tuple(urls)
        self._current = 0
        self._lock = threading.Lock()
        self.stale = True  # the leader is unknown: worth asking /v1/status

    @property
    def current(self) -> str:
        return self.urls[self._current]

    def rotation(self) -> list[str]:
        """Every URL, the current one first."""
        i = self._current
        return [*self.urls[i:], *self.urls[:i]]

    def prefer(self, url: str) -> None:
        with self._lock:
            self._current = self.urls.index(url)
            self.stale = False

    def failed(self, url: str) -> None:
        with self._lock:
            if self.urls[self._current] == url:
                self._current = (self._current + 1) % len(self.urls)
            self.stale = True

    def choose_leader(self, answers: Sequence[tuple[str, Mapping[str, Any] | None]]) -> None:
        """Prefer the endpoint that says it leads, else the one its peers name;
        with no leader in sight keep the current one (any node forwards to the
        leader), and ask again only after the next failure if some node answered.
        `answers` pairs each URL with its status (None: no answer)."""
        by_id = {a.get("id"): url for url, a in answers if a is not None}
        for url, a in answers:
            if a is not None and a.get("role") == "leader":
                self.prefer(url)
                return
        for _url, a in answers:
            leader = a.get("leader") if a is not None else None
            if leader is not None and leader in by_id:
                self.prefer(by_id[leader])
                return
            # A follower also names the leader's HTTP address (host:port).
            leader_http = a.get("leader_http") if a is not None else None
            if isinstance(leader_http, str) and f"http://{leader_http}" in self.urls:
                self.prefer(f"http://{leader_http}")
                return
        if by_id:
            self.stale = False


class Retrier:
    """The retry budget of one logical call."""

    def __init__(
        self,
        kind: Kind,
        policy: RetryPolicy,
        endpoints: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.kind = kind
        self.policy = policy
        self.endpoints = endpoints
        self.clock = clock
        self.rng = rng or random.Random()
        self.started = clock()
        self.attempts = 0
        self.rounds = 0
        self.in_round = 0  # failures since the last backoff (or the start)
        self.maybe_applied = False
        self.last = ""

    def failed(self, outcome: Outcome, message: str, retry_after: float | None = None) -> float:
        """Record a failed attempt; the seconds to wait before the next one, or raise
        the call's final error when the budget is spent."""
        self.attempts += 1
        self.last = message
        if outcome is Outcome.UNKNOWN and self.kind is not Kind.READ:
            self.maybe_applied = True
            if self.kind is Kind.ONCE:
                raise OutcomeUnknown(f"no answer, the request may have applied: {message}")
        self.in_round += 1
        delay = 0.0
        if self.in_round >= self.endpoints:
            delay = self.policy.backoff(self.rounds, self.rng)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.policy.max_delay))
            self.rounds += 1
            self.in_round = 0
        spent = self.clock() - self.started
        if self.attempts >= self.policy.attempts or spent + delay > self.policy.deadline:
            raise self.final()
        return delay

    @property
    def round_start(self) -> bool:
        """At the start of a round: the time to look for the leader again (within a
        round the client tries each endpoint, whatever the last status said)."""
        return self.in_round == 0

    def final(self) -> ClientError:
        tail = f"after {self.attempts} attempts; last: {self.last}"
        if self.maybe_applied:
            return OutcomeUnknown(f"the write may or may not have applied {tail}")
        return Unavailable(f"no endpoint could serve the request {tail}")


@dataclass(slots=True)
class _Lane:
    client_id: str
    seq: int = 0


@dataclass(slots=True)
class Sessions:
    """Session lanes of one client (see the header)."""

    client_id: str = field(default_factory=lambda: secrets.token_hex(8))
    _free: list[_Lane] = field(default_factory=list)
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def write(self) -> Iterator[tuple[str, int]]:
        """(client id, seq) for one logical write: the same on each of its retries."""
        with self._lock:
            if self._free:
                lane = self._free.pop()
            else:
                name = self.client_id if self._count == 0 else f"{self.client_id}.{self._count}"
                lane = _Lane(name)
                self._count += 1
            lane.seq += 1
        try:
            yield lane.client_id, lane.seq
        finally:
            with self._lock:
                self._free.append(lane)
                # lane 0 sorts last, so pop() hands it out first
                self._free.sort(key=lambda ln: ln.client_id == self.client_id)


__all__ = [
    "DEFAULT_ENDPOINTS",
    "AttemptFailed",
    "Endpoints",
    "Outcome",
    "Retrier",
    "RetryPolicy",
    "Sessions",
    "parse_endpoints",
]
