"""Every operation as a Call: the HTTP request of docs/API.md and how to read its answer.

Rules this file keeps:
- Pure: no sockets, no clocks. The sync and async clients differ only in how they
  move bytes; what to send and what an answer means is decided here, once.
- Each Call names its Kind, which decides what a retry may do (retry.py):
  READ has no side effect; WRITE carries a session (X-Senate-Client/Seq) so a
  retry applies once; ONCE has a side effect no session dedupes, so it is
  retried only when it surely did not run. A lock acquire on the client's own
  lease is a WRITE: a retry with the same lease is the same contender.
- `parse` sees the final answer, whatever its status; `raise_for` turns an error
  answer into the exception of errors.py (one mapping for every call).
"""

from __future__ import annotations

import enum
import json
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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
from senate.client.txn import parse_kv
from senate.client.types import DeleteResult, KeyValue, Lease, LockGrant, Member

T = TypeVar("T")

REVISION_HEADER = "x-senate-revision"
CREATE_REVISION_HEADER = "x-senate-create-revision"
LEASE_HEADER = "x-senate-lease"
CLIENT_HEADER = "X-Senate-Client"
SEQ_HEADER = "X-Senate-Seq"
LOCK_SLACK = 10.0  # seconds on top of a lock's `wait` before the client gives up on the answer


class Kind(enum.Enum):
    READ = "read"
    WRITE = "write"
    ONCE = "once"


@dataclass(slots=True, frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise ServerError(f"HTTP {self.status}: the answer is not JSON") from None


@dataclass(slots=True, frozen=True)
class Call(Generic[T]):
    method: str
    target: str  # path and query, percent-encoded
    parse: Callable[[Reply], T]
    kind: Kind = Kind.READ
    body: bytes | None = None
    content_type: str | None = None
    timeout: float | None = None  # None: the client's request timeout


# ---- error answers -------------------------------------------------------------------


def error_for(reply: Reply) -> ClientError:
    """The exception an error answer stands for."""
    try:
        body = json.loads(reply.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    code = body.get("error")
    code = code if isinstance(code, str) else None
    message = str(body.get("message") or f"HTTP {reply.status}")
    status = reply.status
    if status == 400:
        return BadRequest(message, code=code)
    if status == 404:
        return NotFound(message, code=code)
    if status == 409 and code == "timeout":
        return LockTimeout(message, code=code)
    if status == 409 and code == "lock_lost":
        return LockLost(message, code=code)
    if status == 409 and code == "stale_request":
        # Cannot happen while each session lane has one write in flight (retry.py).
        return ServerError(f"the server saw this client's writes out of order: {message}")
    if status == 409:
        return CompareFailed(
            message,
            code=code,
            revision=_int_or_none(body.get("revision")),
            mod_revision=_int_or_none(body.get("mod_revision")),
        )
    if status == 410:
        oldest = _int_or_none(body.get("oldest_revision"))
        return Compacted(message, code=code, oldest_revision=oldest)
    if status in (413, 414):
        return TooLarge(message, code=code)
    if status == 503:
        return Unavailable(message, code=code)
    if status == 504:
        return OutcomeUnknown(message, code=code)
    return ServerError(f"HTTP {status}: {message}", code=code)


def raise_for(reply: Reply) -> None:
    if not 200 <= reply.status < 300:
        raise error_for(reply)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _json_ok(reply: Reply) -> Any:
    raise_for(reply)
    return reply.json()


def _malformed(what: str, exc: Exception) -> ServerError:
    return ServerError(f"malformed {what} answer: {exc!r}")


# ---- key-value -----------------------------------------------------------------------


def key_target(key: str, **query: str | int | None) -> str:
    if not key:
        raise BadRequest("key must be 1..1024 bytes of UTF-8, got 0")
    return "/v1/kv/" + urllib.parse.quote(key, safe="") + _query(query)


def _query(query: Mapping[str, str | int | None]) -> str:
    pairs = {k: str(v) for k, v in query.items() if v is not None}
    return "?" + urllib.parse.urlencode(pairs) if pairs else ""


def put(
    key: str,
    value: bytes,
    *,
    prev_revision: int | None = None,
    prev_value: bytes | None = None,
    lease: int | None = None,
) -> Call[int]:
    prev = None if prev_value is None else prev_value.decode("utf-8", "surrogateescape")
    target = key_target(key, prev_revision=prev_revision, prev_value=prev, lease=lease)

    def parse(reply: Reply) -> int:
        try:
            return int(_json_ok(reply)["revision"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed("put", exc) from None

    return Call("PUT", target, parse, Kind.WRITE, bytes(value), "application/octet-stream")


def get(key: str, *, consistency: str = "linearizable") -> Call[KeyValue | None]:
    if consistency not in ("linearizable", "serializable"):
        raise BadRequest(f"consistency must be linearizable or serializable, got {consistency!r}")

    def parse(reply: Reply) -> KeyValue | None:
        if reply.status == 404:
            return None
        raise_for(reply)
        try:
            return KeyValue(
                key,
                reply.body,
                int(reply.headers[REVISION_HEADER]),
                _header_int(reply, CREATE_REVISION_HEADER),
                None,
                _header_int(reply, LEASE_HEADER),
            )
        except (KeyError, ValueError) as exc:
            raise _malformed("get", exc) from None

    return Call("GET", key_target(key, consistency=consistency), parse)


def _header_int(reply: Reply, name: str) -> int | None:
    text = reply.headers.get(name)
    return None if text is None else int(text)


def delete(key: str) -> Call[DeleteResult]:
    def parse(reply: Reply) -> DeleteResult:
        body = _json_ok(reply)
        try:
            return DeleteResult(int(body["revision"]), bool(body["deleted"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed("delete", exc) from None

    return Call("DELETE", key_target(key), parse, Kind.WRITE)


def range_(prefix: str, *, consistency: str = "linearizable") -> Call[tuple[int, list[KeyValue]]]:
    """Every key under `prefix` (all keys for ""), and the revision they were read at."""
    query = {"prefix": prefix, "encoding": "base64", "consistency": consistency}

    def parse(reply: Reply) -> tuple[int, list[KeyValue]]:
        body = _json_ok(reply)
        try:
            return int(body["revision"]), [parse_kv(item, "base64") for item in body["items"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed("list", exc) from None

    return Call("GET", "/v1/kv" + _query(query), parse)


def txn(document: Mapping[str, Any]) -> Call[Any]:
    """A transaction document as in docs/API.md; the answer's JSON as is."""
    body = json.dumps(document).encode()
    return Call("POST", "/v1/txn", _json_ok, Kind.WRITE, body, "application/json")


# ---- leases ----------------------------------------------------------------------


def _lease(reply: Reply) -> Lease:
    body = _json_ok(reply)
    try:
        remaining = body.get("remaining")
        return Lease(
            int(body["id"]),
            float(body["ttl"]),
            None if remaining is None else float(remaining),
            tuple(str(k) for k in body.get("keys", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed("lease", exc) from None


def _json_body(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def lease_grant(ttl: float) -> Call[Lease]:
    body = _json_body({"ttl": ttl})
    return Call("POST", "/v1/leases", _lease, Kind.WRITE, body, "application/json")


def lease_keepalive(lease_id: int) -> Call[Lease]:
    # Idempotent (it resets a deadline on the leader), so it retries like a read.
    return Call("POST", f"/v1/leases/{int(lease_id)}/keepalive", _lease, Kind.READ)


def lease_info(lease_id: int) -> Call[Lease]:
    return Call("GET", f"/v1/leases/{int(lease_id)}", _lease)


def lease_revoke(lease_id: int) -> Call[bool]:
    def parse(reply: Reply) -> bool:
        return bool(_json_ok(reply).get("revoked", True))

    return Call("DELETE", f"/v1/leases/{int(lease_id)}", parse, Kind.WRITE)


# ---- locks -----------------------------------------------------------------------


def _lock_name(name: str) -> str:
    if not name:
        raise BadRequest("a lock name must not be empty")
    return urllib.parse.quote(name, safe="")


def lock_acquire(name: str, ttl: float, wait: float, lease: int | None = None) -> Call[LockGrant]:
    """Acquire on the client's `lease` (retry-safe: a WRITE) or, without one, on a
    lease of `ttl` the node grants (a ONCE: a retry would queue a second contender)."""

    def parse(reply: Reply) -> LockGrant:
        body = _json_ok(reply)
        try:
            return LockGrant(
                str(body.get("name", name)),
                int(body["lease"]),
                int(body["fencing_token"]),
                str(body["key"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed("lock", exc) from None

    doc: dict[str, Any] = {"ttl": ttl, "wait": wait} if lease is None else {
        "lease": lease, "wait": wait}  # fmt: skip
    return Call(
        "POST",
        f"/v1/locks/{_lock_name(name)}",
        parse,
        Kind.ONCE if lease is None else Kind.WRITE,
        _json_body(doc),
        "application/json",
        timeout=wait + LOCK_SLACK,
    )


def lock_release(name: str, lease_id: int) -> Call[bool]:
    def parse(reply: Reply) -> bool:
        return bool(_json_ok(reply).get("released", True))

    target = f"/v1/locks/{_lock_name(name)}" + _query({"lease": lease_id})
    return Call("DELETE", target, parse, Kind.WRITE)


# ---- members and status ----------------------------------------------------------


def members() -> Call[list[Member]]:
    def parse(reply: Reply) -> list[Member]:
        body = _json_ok(reply)
        try:
            return [
                Member(
                    str(m["id"]),
                    str(m["peer"]),
                    None if m.get("http") is None else str(m["http"]),
                    bool(m.get("voter", True)),
                )
                for m in body["members"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed("members", exc) from None

    return Call("GET", "/v1/members", parse)


def member_add(member_id: str, peer: str, http: str) -> Call[Any]:
    body = _json_body({"id": member_id, "peer": peer, "http": http})
    return Call("POST", "/v1/members", _json_ok, Kind.WRITE, body, "application/json")


def member_remove(member_id: str) -> Call[Any]:
    target = "/v1/members/" + urllib.parse.quote(member_id, safe="")
    return Call("DELETE", target, _json_ok, Kind.WRITE)


def status() -> Call[dict[str, Any]]:
    def parse(reply: Reply) -> dict[str, Any]:
        body = _json_ok(reply)
        if not isinstance(body, dict):
            raise ServerError("malformed status answer: not an object")
        return body

    return Call("GET", "/v1/status", parse)


__all__ = ["Call", "Kind", "Reply", "error_for", "raise_for"]
