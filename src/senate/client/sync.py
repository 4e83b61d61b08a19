"""The synchronous client: `Client(endpoints)` and its blocking methods.

    with Client("http://127.0.0.1:8101,http://127.0.0.1:8102") as c:
        rev = c.put("k", b"v")
        kv = c.get("k")                       # KeyValue or None
        with c.lock("job", ttl=10) as grant:  # grant.fencing_token
            ...
        for event in c.watch(prefix="jobs/"):
            ...

Rules this file keeps:
- Thread-safe: one Client may serve many threads (connections are pooled, each
  write takes its own session lane, see retry.py).
- Every request goes through `_run`, the one retry loop: a Call (calls.py) says
  what to send and how to read the answer, a Retrier (retry.py) says when to give
  up. Watches, keep-alives and locks are built on top of `_run`.
"""

from __future__ import annotations

import builtins
import contextlib
import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

from senate.client import calls
from senate.client.calls import CLIENT_HEADER, SEQ_HEADER, Call, Kind, Reply, error_for
from senate.client.errors import ClientError, NotFound, OutcomeUnknown
from senate.client.retry import (
    AttemptFailed,
    Endpoints,
    Outcome,
    Retrier,
    RetryPolicy,
    Sessions,
    parse_endpoints,
)
from senate.client.sync_http import Pool
from senate.client.sync_watch import Watch
from senate.client.txn import Compare, TxnOp, TxnResult, parse_txn_result, txn_document
from senate.client.types import DeleteResult, KeyValue, Lease, LockGrant, Member

T = TypeVar("T")
STATUS_TIMEOUT = 1.0  # seconds per endpoint when looking for the leader


class Client:
    def __init__(
        self,
        endpoints: str | Sequence[str] | None = None,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        client_id: str | None = None,
    ) -> None:
        self.endpoints = Endpoints(parse_endpoints(endpoints))
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.sessions = Sessions() if client_id is None else Sessions(client_id)
        self._pool = Pool()
        self._rng = random.Random()
        self.retries = 0  # attempts after a failed one, over the client's life

    @property
    def client_id(self) -> str:
        return self.sessions.client_id

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- key-value ---------------------------------------------------------------

    def put(
        self,
        key: str,
        value: bytes,
        *,
        prev_revision: int | None = None,
        prev_value: bytes | None = None,
        lease: int | None = None,
    ) -> int:
        """Store `value`; the new revision. CompareFailed if a prev_* does not hold
        (prev_revision=0: the key must not exist)."""
        call = calls.put(
            key, value, prev_revision=prev_revision, prev_value=prev_value, lease=lease
        )
        return self._run(call)

    def get(self, key: str, *, consistency: str = "linearizable") -> KeyValue | None:
        return self._run(calls.get(key, consistency=consistency))

    def delete(self, key: str) -> DeleteResult:
        return self._run(calls.delete(key))

    def list(
        self, prefix: str = "", *, consistency: str = "linearizable"
    ) -> builtins.list[KeyValue]:
        return self._run(calls.range_(prefix, consistency=consistency))[1]

    def range(
        self, prefix: str = "", *, consistency: str = "linearizable"
    ) -> tuple[int, builtins.list[KeyValue]]:
        """Like list, with the revision the keys were read at (watch from it + 1)."""
        return self._run(calls.range_(prefix, consistency=consistency))

    def txn(
        self,
        compare: Sequence[Compare] = (),
        success: Sequence[TxnOp] = (),
        failure: Sequence[TxnOp] = (),
    ) -> TxnResult:
        body = self._run(calls.txn(txn_document(compare, success, failure)))
        return parse_txn_result(body, success if body.get("succeeded") else failure)

    def txn_document(self, document: dict[str, Any]) -> Any:
        """A raw transaction document of docs/API.md; the answer's JSON as is."""
        return self._run(calls.txn(document))

    def watch(
        self,
        key: str | None = None,
        *,
        prefix: str | None = None,
        start_revision: int | None = None,
        idle_timeout: float = 15.0,
    ) -> Watch:
        """Events of `key` (or of every key under `prefix`) from `start_revision`
        (default: from now), resumed after dropped connections with no gap and no
        repeat. Iterate it; `close()` it (or use `with`) to stop."""
        return Watch(self, key, prefix, start_revision, idle_timeout)

    # ---- leases --------------------------------------------------------------------

    def lease_grant(self, ttl: float) -> Lease:
        return self._run(calls.lease_grant(ttl))

    def lease_keepalive(self, lease_id: int) -> Lease:
        return self._run(calls.lease_keepalive(lease_id))

    def lease_info(self, lease_id: int) -> Lease:
        return self._run(calls.lease_info(lease_id))

    def lease_revoke(self, lease_id: int) -> bool:
        return self._run(calls.lease_revoke(lease_id))

    def keep_alive(self, lease_id: int, ttl: float) -> KeepAlive:
        """A started background thread renewing the lease every ttl/3 s; stop() it."""
        keeper = KeepAlive(self, lease_id, ttl)
        keeper.start()
        return keeper

    # ---- locks -----------------------------------------------------------------------

    def lock_acquire(
        self, name: str, *, ttl: float = 10, wait: float = 30.0, lease: int | None = None
    ) -> LockGrant:
        """Hold lock `name` on `lease`, or on a lease of `ttl` granted first (revoked
        again if the lock is not acquired). Retry-safe: a lost answer is retried with
        the same lease, which finds the same place in the queue and the same token."""
        if lease is not None:
            return self._lock_on(name, ttl, wait, lease)
        granted = self.lease_grant(ttl)
        try:
            return self._lock_on(name, ttl, wait, granted.id)
        except BaseException:
            with contextlib.suppress(ClientError):
                self.lease_revoke(granted.id)
            raise

    def _lock_on(self, name: str, ttl: float, wait: float, lease: int) -> LockGrant:
        # Each _run retries within the client's budget; a wait longer than that
        # budget gets further runs (the same lease) while the wait lasts.
        started = time.monotonic()
        left = wait
        while True:
            try:
                return self._run(calls.lock_acquire(name, ttl, left, lease))
            except OutcomeUnknown:  # it may be queued: the same lease finds its place
                left = wait - (time.monotonic() - started)
                if left <= 0:
                    raise

    def lock_release(self, name: str, lease_id: int) -> bool:
        return self._run(calls.lock_release(name, lease_id))

    @contextmanager
    def lock(self, name: str, ttl: float = 10, wait: float = 30.0) -> Iterator[LockGrant]:
        """Hold lock `name` for the `with` block, its lease kept alive meanwhile;
        yields the grant (grant.fencing_token). LockTimeout if not acquired in `wait`."""
        grant = self.lock_acquire(name, ttl=ttl, wait=wait)
        keeper = self.keep_alive(grant.lease, ttl)
        ok = False
        try:
            yield grant
            ok = True
        finally:
            keeper.stop()
            try:
                self.lock_release(name, grant.lease)
            except NotFound:
                pass  # the lease already expired or was revoked: the lock is free
            except ClientError:
                if ok:  # else do not hide the block's own exception
                    raise

    # ---- members and status ------------------------------------------------------------

    def members(self) -> builtins.list[Member]:
        return self._run(calls.members())

    def member_add(self, member_id: str, peer: str, http: str) -> Any:
        return self._run(calls.member_add(member_id, peer, http))

    def member_remove(self, member_id: str) -> Any:
        return self._run(calls.member_remove(member_id))

    def status(self) -> dict[str, Any]:
        """The /v1/status of the node the client talks to (the leader, if known)."""
        return self._run(calls.status())

    # ---- the retry loop --------------------------------------------------------------

    def find_leader(self) -> None:
        """Ask each endpoint's /v1/status and prefer the leader's endpoint."""
        answers: builtins.list[tuple[str, dict[str, Any] | None]] = []
        for url in self.endpoints.rotation():
            try:
                reply = self._pool.request(url, "GET", "/v1/status", None, {}, STATUS_TIMEOUT)
                body = reply.json() if reply.status == 200 else None
            except (AttemptFailed, ClientError):
                body = None
            answers.append((url, body if isinstance(body, dict) else None))
            if isinstance(body, dict) and body.get("role") == "leader":
                break
        self.endpoints.choose_leader(answers)

    def _run(self, call: Call[T]) -> T:
        if call.kind is Kind.READ:
            return self._attempts(call, {})
        with self.sessions.write() as (client_id, seq):
            return self._attempts(call, {CLIENT_HEADER: client_id, SEQ_HEADER: str(seq)})

    def _attempts(self, call: Call[T], headers: dict[str, str]) -> T:
        if call.content_type is not None:
            headers["Content-Type"] = call.content_type
        retrier = Retrier(call.kind, self.retry, len(self.endpoints.urls), rng=self._rng)
        timeout = call.timeout or self.timeout
        while True:
            if self.endpoints.stale and retrier.round_start:
                self.find_leader()
            url = self.endpoints.current
            self.retries += retrier.attempts > 0
            try:
                reply = self._pool.request(
                    url, call.method, call.target, call.body, headers, timeout,
                    fresh=call.kind is Kind.ONCE,
                )  # fmt: skip
            except AttemptFailed as exc:
                self.endpoints.failed(url)
                time.sleep(retrier.failed(exc.outcome, str(exc)))
                continue
            if reply.status in (503, 504):
                self.endpoints.failed(url)
                outcome = Outcome.REFUSED if reply.status == 503 else Outcome.UNKNOWN
                message = f"{url}: {error_for(reply)}"
                time.sleep(retrier.failed(outcome, message, _retry_after(reply)))
                continue
            return call.parse(reply)


def _retry_after(reply: Reply) -> float | None:
    text = reply.headers.get("retry-after")
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


class KeepAlive:
    """Renews a lease from a daemon thread until stopped or the lease is gone.

    `error` holds what ended it early (NotFound: the lease expired or was revoked).
    A failed renewal is tried again soon; the lease survives as long as one
    renewal lands within each ttl.
    """

    def __init__(self, client: Client, lease_id: int, ttl: float) -> None:
        self.client = client
        self.lease_id = lease_id
        self.interval = max(ttl / 3, 0.1)
        self.error: ClientError | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"senate-keepalive-{lease_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        wait = self.interval
        while not self._stop.wait(wait):
            try:
                self.client.lease_keepalive(self.lease_id)
                wait = self.interval
            except NotFound as exc:
                self.error = exc
                return
            except ClientError as exc:
                self.error = exc
                wait = self.interval / 3

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=self.client.timeout)

    def __enter__(self) -> KeepAlive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["Client", "KeepAlive"]
