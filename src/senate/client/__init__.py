"""Python clients of Senate's HTTP API (docs/API.md): `Client` (blocking, threads)
and `AsyncClient` (asyncio, aiohttp), with the same methods.

    from senate.client import Client, Compare, Put
    with Client("http://127.0.0.1:8101,http://127.0.0.1:8102,http://127.0.0.1:8103") as c:
        rev = c.put("greeting", b"hello")
        c.put("greeting", b"hi", prev_revision=rev)       # CompareFailed if it moved
        kv = c.get("greeting")                             # KeyValue | None
        c.txn([Compare.value("greeting") == b"hi"], [Put("seen", b"1")])
        with c.lock("nightly", ttl=10) as grant:           # grant.fencing_token
            ...

Both find the leader through /v1/status, fail over between endpoints on connection
errors and 503s with bounded, jittered retries, and send every write with the
same (X-Senate-Client, X-Senate-Seq) on each retry, so it applies once. Failures
raise the exceptions of senate.client.errors (all SenateError).
"""

from typing import TYPE_CHECKING, Any

from senate.client.errors import (
    BadRequest,
    ClientError,
    Compacted,
    CompareFailed,
    LockLost,
    LockTimeout,
    NotFound,
    OutcomeUnknown,
    ServerError,
    TooLarge,
    Unavailable,
)
from senate.client.retry import DEFAULT_ENDPOINTS, RetryPolicy, parse_endpoints
from senate.client.sync import Client, KeepAlive
from senate.client.sync_watch import Watch
from senate.client.txn import Compare, Delete, Get, OpResult, Put, TxnResult
from senate.client.types import DeleteResult, Event, KeyValue, Lease, LockGrant, Member

if TYPE_CHECKING:
    from senate.client.aio import AsyncClient, AsyncKeepAlive, AsyncWatch

_ASYNC = ("AsyncClient", "AsyncKeepAlive", "AsyncWatch")


def __getattr__(name: str) -> Any:
    # The async client imports aiohttp; a sync user (the CLI) does not pay for it.
    if name in _ASYNC:
        from senate.client import aio

        return getattr(aio, name)
    raise AttributeError(f"module 'senate.client' has no attribute {name!r}")


__all__ = [
    "DEFAULT_ENDPOINTS",
    "AsyncClient",
    "AsyncKeepAlive",
    "AsyncWatch",
    "BadRequest",
    "Client",
    "ClientError",
    "Compacted",
    "Compare",
    "CompareFailed",
    "Delete",
    "DeleteResult",
    "Event",
    "Get",
    "KeepAlive",
    "KeyValue",
    "Lease",
    "LockGrant",
    "LockLost",
    "LockTimeout",
    "Member",
    "NotFound",
    "OpResult",
    "OutcomeUnknown",
    "Put",
    "RetryPolicy",
    "ServerError",
    "TooLarge",
    "TxnResult",
    "Unavailable",
    "Watch",
    "parse_endpoints",
]
