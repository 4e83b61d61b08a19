"""The asyncio client: `AsyncClient(endpoints)`, the same methods as `Client` as
coroutines, on aiohttp (pooled keep-alive connections).

    async with AsyncClient("http://127.0.0.1:8101,http://127.0.0.1:8102") as c:
        await c.put("k", b"v")
        async with c.lock("job") as grant:
            ...
        async for event in c.watch(prefix="jobs/"):
            ...

Rules this file keeps:
- The same Calls (calls.py), retry rules and session lanes (retry.py) and watch
  cursor (watch.py) as the sync client; only the transport differs.
- The aiohttp session is made on first use inside the running loop; `close()`
  (or `async with`) releases it.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import random
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeVar

import aiohttp

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
from senate.client.txn import Compare, TxnOp, TxnResult, parse_txn_result, txn_document
from senate.client.types import DeleteResult, Event, KeyValue, Lease, LockGrant, Member
from senate.client.watch import WatchCursor

T = TypeVar("T")
STATUS_TIMEOUT = 1.0
READ_BUFSIZE = 4 << 20  # a watch line carries a value of up to 1 MiB, base64 or JSON-escaped


def _reply(resp: aiohttp.ClientResponse, body: bytes) -> Reply:
    return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, body)


class AsyncClient:
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
        self._http: aiohttp.ClientSession | None = None
        self._rng = random.Random()
        self.retries = 0  # attempts after a failed one, over the client's life

    @property
    def client_id(self) -> str:
        return self.sessions.client_id

    def http_session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(read_bufsize=READ_BUFSIZE)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---- key-value ---------------------------------------------------------------

    async def put(
        self,
        key: str,
        value: bytes,
        *,
        prev_revision: int | None = None,
        prev_value: bytes | None = None,
        lease: int | None = None,
    ) -> int:
        call = calls.put(
            key, value, prev_revision=prev_revision, prev_value=prev_value, lease=lease
        )
        return await self._run(call)

    async def get(self, key: str, *, consistency: str = "linearizable") -> KeyValue | None:
        return await self._run(calls.get(key, consistency=consistency))

    async def delete(self, key: str) -> DeleteResult:
        return await self._run(calls.delete(key))

    async def list(
        self, prefix: str = "", *, consistency: str = "linearizable"
    ) -> builtins.list[KeyValue]:
        return (await self._run(calls.range_(prefix, consistency=consistency)))[1]

    async def range(
        self, prefix: str = "", *, consistency: str = "linearizable"
    ) -> tuple[int, builtins.list[KeyValue]]:
        return await self._run(calls.range_(prefix, consistency=consistency))

    async def txn(
        self,
        compare: Sequence[Compare] = (),
        success: Sequence[TxnOp] = (),
        failure: Sequence[TxnOp] = (),
    ) -> TxnResult:
        body = await self._run(calls.txn(txn_document(compare, success, failure)))
        return parse_txn_result(body, success if body.get("succeeded") else failure)

    async def txn_document(self, document: dict[str, Any]) -> Any:
        return await self._run(calls.txn(document))

    def watch(
        self,
        key: str | None = None,
        *,
        prefix: str | None = None,
        start_revision: int | None = None,
        idle_timeout: float = 15.0,
    ) -> AsyncWatch:
        return AsyncWatch(self, key, prefix, start_revision, idle_timeout)

    # ---- leases --------------------------------------------------------------------

    async def lease_grant(self, ttl: float) -> Lease:
        return await self._run(calls.lease_grant(ttl))

    async def lease_keepalive(self, lease_id: int) -> Lease:
        return await self._run(calls.lease_keepalive(lease_id))

    async def lease_info(self, lease_id: int) -> Lease:
        return await self._run(calls.lease_info(lease_id))

    async def lease_revoke(self, lease_id: int) -> bool:
        return await self._run(calls.lease_revoke(lease_id))

    def keep_alive(self, lease_id: int, ttl: float) -> AsyncKeepAlive:
        """A started task renewing the lease every ttl/3 s; `await stop()` it."""
        keeper = AsyncKeepAlive(self, lease_id, ttl)
        keeper.start()
        return keeper

    # ---- locks -----------------------------------------------------------------------

    async def lock_acquire(
        self, name: str, *, ttl: float = 10, wait: float = 30.0, lease: int | None = None
    ) -> LockGrant:
        """Hold lock `name` on `lease`, or on a lease of `ttl` granted first (revoked
        again if the lock is not acquired); retry-safe like Client.lock_acquire."""
        if lease is not None:
            return await self._lock_on(name, ttl, wait, lease)
        granted = await self.lease_grant(ttl)
        try:
            return await self._lock_on(name, ttl, wait, granted.id)
        except BaseException:
            with contextlib.suppress(ClientError):
                await self.lease_revoke(granted.id)
            raise

    async def _lock_on(self, name: str, ttl: float, wait: float, lease: int) -> LockGrant:
        loop = asyncio.get_running_loop()
        started = loop.time()
        left = wait
        while True:
            try:
                return await self._run(calls.lock_acquire(name, ttl, left, lease))
            except OutcomeUnknown:  # it may be queued: the same lease finds its place
                left = wait - (loop.time() - started)
                if left <= 0:
                    raise

    async def lock_release(self, name: str, lease_id: int) -> bool:
        return await self._run(calls.lock_release(name, lease_id))

    @asynccontextmanager
    async def lock(
        self, name: str, ttl: float = 10, wait: float = 30.0
    ) -> AsyncIterator[LockGrant]:
        grant = await self.lock_acquire(name, ttl=ttl, wait=wait)
        keeper = self.keep_alive(grant.lease, ttl)
        ok = False
        try:
            yield grant
            ok = True
        finally:
            await keeper.stop()
            try:
                await self.lock_release(name, grant.lease)
            except NotFound:
                pass  # the lease already expired or was revoked: the lock is free
            except ClientError:
                if ok:
                    raise

    # ---- members and status ------------------------------------------------------------

    async def members(self) -> builtins.list[Member]:
        return await self._run(calls.members())

    async def member_add(self, member_id: str, peer: str, http: str) -> Any:
        return await self._run(calls.member_add(member_id, peer, http))

    async def member_remove(self, member_id: str) -> Any:
        return await self._run(calls.member_remove(member_id))

    async def status(self) -> dict[str, Any]:
        return await self._run(calls.status())

    # ---- transport and the retry loop ------------------------------------------------

    async def request(
        self,
        url: str,
        method: str,
        target: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: float,
        *,
        fresh: bool = False,
    ) -> Reply:
        """One attempt; AttemptFailed when no HTTP answer came back."""
        limit = aiohttp.ClientTimeout(total=timeout)
        try:
            if fresh:  # a ONCE call must not meet a stale keep-alive connection
                async with aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(force_close=True)
                ) as one_shot:
                    return await self._exchange(one_shot, url, method, target, body, headers, limit)
            session = self.http_session()
            return await self._exchange(session, url, method, target, body, headers, limit)
        except aiohttp.ClientConnectorError as exc:
            raise AttemptFailed(Outcome.NOT_SENT, f"{url}: {exc}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise AttemptFailed(Outcome.UNKNOWN, f"{url}: {reason}") from None

    @staticmethod
    async def _exchange(
        session: aiohttp.ClientSession,
        url: str,
        method: str,
        target: str,
        body: bytes | None,
        headers: Mapping[str, str],
        limit: aiohttp.ClientTimeout,
    ) -> Reply:
        async with session.request(
            method, url + target, data=body, headers=dict(headers), timeout=limit
        ) as resp:
            return _reply(resp, await resp.read())

    async def find_leader(self) -> None:
        answers: builtins.list[tuple[str, dict[str, Any] | None]] = []
        for url in self.endpoints.rotation():
            try:
                reply = await self.request(url, "GET", "/v1/status", None, {}, STATUS_TIMEOUT)
                body = reply.json() if reply.status == 200 else None
            except (AttemptFailed, ClientError):
                body = None
            answers.append((url, body if isinstance(body, dict) else None))
            if isinstance(body, dict) and body.get("role") == "leader":
                break
        self.endpoints.choose_leader(answers)

    async def _run(self, call: Call[T]) -> T:
        if call.kind is Kind.READ:
            return await self._attempts(call, {})
        with self.sessions.write() as (client_id, seq):
            headers = {CLIENT_HEADER: client_id, SEQ_HEADER: str(seq)}
            return await self._attempts(call, headers)

    async def _attempts(self, call: Call[T], headers: dict[str, str]) -> T:
        if call.content_type is not None:
            headers["Content-Type"] = call.content_type
        retrier = Retrier(call.kind, self.retry, len(self.endpoints.urls), rng=self._rng)
        timeout = call.timeout or self.timeout
        while True:
            if self.endpoints.stale and retrier.round_start:
                await self.find_leader()
            url = self.endpoints.current
            self.retries += retrier.attempts > 0
            try:
                reply = await self.request(
                    url, call.method, call.target, call.body, headers, timeout,
                    fresh=call.kind is Kind.ONCE,
                )  # fmt: skip
            except AttemptFailed as exc:
                self.endpoints.failed(url)
                await asyncio.sleep(retrier.failed(exc.outcome, str(exc)))
                continue
            if reply.status in (503, 504):
                self.endpoints.failed(url)
                outcome = Outcome.REFUSED if reply.status == 503 else Outcome.UNKNOWN
                retry_after = reply.headers.get("retry-after")
                after = float(retry_after) if retry_after and retry_after.isdigit() else None
                message = f"{url}: {error_for(reply)}"
                await asyncio.sleep(retrier.failed(outcome, message, after))
                continue
            return call.parse(reply)


class AsyncWatch:
    """An async iterator of events; reconnects like the sync Watch (sync_watch.py).

    Without a start revision it starts from its first iteration (the sync Watch
    starts from its creation: a constructor cannot await).
    """

    def __init__(
        self,
        client: AsyncClient,
        key: str | None,
        prefix: str | None,
        start_revision: int | None,
        idle_timeout: float,
    ) -> None:
        self.client = client
        self.cursor = WatchCursor(key, prefix, start_revision, idle_timeout / 3)
        self.idle_timeout = idle_timeout
        self.reconnects = 0
        self._events = self._stream()

    def __aiter__(self) -> AsyncWatch:
        return self

    async def __anext__(self) -> Event:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        await self._events.aclose()

    async def __aenter__(self) -> AsyncWatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _retrier(self) -> Retrier:
        return Retrier(Kind.READ, self.client.retry, len(self.client.endpoints.urls))

    async def _stream(self) -> AsyncGenerator[Event, None]:
        if self.cursor.next_revision is None:
            revision, _ = await self.client.range(self.cursor.scope)
            self.cursor.pin(revision)
        retrier = self._retrier()
        opened = 0
        limit = aiohttp.ClientTimeout(total=None, sock_connect=5.0, sock_read=self.idle_timeout)
        while True:
            url = self.client.endpoints.current
            session = self.client.http_session()
            delivered = False
            try:
                async with session.get(url + self.cursor.target(), timeout=limit) as resp:
                    if resp.status == 503:
                        raise AttemptFailed(Outcome.REFUSED, f"{url}: HTTP 503")
                    if resp.status != 200:
                        raise error_for(_reply(resp, await resp.read()))
                    self.reconnects += opened > 0
                    opened += 1
                    while True:
                        line = await resp.content.readline()
                        if not line:
                            break  # the server ended the stream: resume elsewhere
                        delivered = True
                        event = self.cursor.feed(line)
                        if event is not None:
                            yield event
            except AttemptFailed as exc:
                self.client.endpoints.failed(url)
                await asyncio.sleep(retrier.failed(exc.outcome, str(exc)))
                continue
            except aiohttp.ClientConnectorError as exc:
                self.client.endpoints.failed(url)
                await asyncio.sleep(retrier.failed(Outcome.NOT_SENT, f"{url}: {exc}"))
                continue
            except (aiohttp.ClientError, TimeoutError, OSError):
                pass  # dropped or idle: resume from the cursor
            self.client.endpoints.failed(url)
            if delivered:  # this connection worked: a fresh budget from now on
                retrier = self._retrier()
            await asyncio.sleep(retrier.failed(Outcome.UNKNOWN, f"{url}: the watch stream ended"))


class AsyncKeepAlive:
    """Renews a lease from a task until stopped or the lease is gone (see KeepAlive)."""

    def __init__(self, client: AsyncClient, lease_id: int, ttl: float) -> None:
        self.client = client
        self.lease_id = lease_id
        self.interval = max(ttl / 3, 0.1)
        self.error: ClientError | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        wait = self.interval
        while True:
            await asyncio.sleep(wait)
            try:
                await self.client.lease_keepalive(self.lease_id)
                wait = self.interval
            except NotFound as exc:
                self.error = exc
                return
            except ClientError as exc:
                self.error = exc
                wait = self.interval / 3

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def __aenter__(self) -> AsyncKeepAlive:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


__all__ = ["AsyncClient", "AsyncKeepAlive", "AsyncWatch"]
