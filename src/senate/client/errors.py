"""Exceptions of the Python client, one per answer a caller may want to handle.

Every one derives from senate.errors.SenateError (so the CLI prints it on one line
and exits 1) through ClientError. The mapping from HTTP answers (docs/API.md):

    400 BadRequest      404 NotFound        409 CompareFailed / LockTimeout / LockLost
    410 Compacted       413 TooLarge        503 Unavailable (after the retries)
    504 OutcomeUnknown  (also: a timeout or dropped connection after the request
                         was sent, when the retries ran out)
    other 5xx / nonsense: ServerError
"""

from __future__ import annotations

from senate.errors import SenateError


class ClientError(SenateError):
    """Base of every error the client raises. `status` is the HTTP status, if any."""

    status: int | None = None

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class BadRequest(ClientError):
    """The request is malformed (400, or refused before sending): retrying will not
    help. The CLI exits 2 (bad usage) on it, as the input came from its user."""

    status = 400
    exit_code = 2


class NotFound(ClientError):
    """The key, lease or member does not exist (404)."""

    status = 404


class CompareFailed(ClientError):
    """A compare-and-set did not hold (409); nothing changed.

    `revision` is the store's revision when it was evaluated and `mod_revision` the
    key's current mod revision (0 if it does not exist), when the server says so.
    """

    status = 409

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        revision: int | None = None,
        mod_revision: int | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.revision = revision
        self.mod_revision = mod_revision


class LockTimeout(ClientError):
    """A lock was not acquired within its `wait` (409 `timeout`)."""

    status = 409


class LockLost(ClientError):
    """The lock's lease ended while the server was acquiring it (409 `lock_lost`)."""

    status = 409


class Compacted(ClientError):
    """A watch start revision is older than the server's retained history (410)."""

    status = 410

    def __init__(
        self, message: str, *, code: str | None = None, oldest_revision: int | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.oldest_revision = oldest_revision


class TooLarge(ClientError):
    """A key, value or request is over the server's limit (413)."""

    status = 413


class Unavailable(ClientError):
    """No endpoint could serve the request within the retry budget.

    The request did not apply: every attempt either never reached a server or was
    refused with 503 (no leader / no quorum), which means it was not carried out.
    """

    status = 503


class OutcomeUnknown(ClientError):
    """A write was sent but its outcome never came back (504, timeout, dropped
    connection) and the retries ran out: it may or may not have applied.

    Retrying it by hand with a new call is a *new* write; read the key to find out.
    """

    status = 504


class ServerError(ClientError):
    """An answer the client does not understand (500, or a body that is not JSON)."""


__all__ = [
    "BadRequest",
    "ClientError",
    "Compacted",
    "CompareFailed",
    "LockLost",
    "LockTimeout",
    "NotFound",
    "OutcomeUnknown",
    "ServerError",
    "TooLarge",
    "Unavailable",
]
