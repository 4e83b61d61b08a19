"""JSON errors of the HTTP API: every failure is {"error": code, "message": text}.

Rules this file keeps:
- One mapping from what went wrong to (status, code), used by the middleware, so
  no handler builds an error body by hand and no client ever sees an HTML page or
  a traceback (CONTRACT.md: 400 bad input, 404 missing, 409 compare failed, 413
  too large, 503 no leader or no quorum with Retry-After, 504 outcome unknown).
- aiohttp's own refusals (no such route, wrong method, body over client_max_size)
  are rewritten into the same shape.
- Anything unexpected is a 500 "internal" with a one-line log, never a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from senate.errors import MalformedInput
from senate.runtime.node import OutcomeUnknown, Unavailable

logger = logging.getLogger("senate.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CODES: dict[int, str] = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    414: "too_large",
    503: "unavailable",
    504: "outcome_unknown",
}


class ApiError(Exception):
    """Raised by handlers for an error response with a specific code."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    body: dict[str, Any] = {"error": code, "message": message, **extra}
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, **exc.extra)
    except MalformedInput as exc:
        return error_response(400, "bad_request", str(exc))
    except Unavailable as exc:
        headers = {"Retry-After": str(exc.retry_after)}
        return error_response(503, "unavailable", str(exc), headers=headers)
    except OutcomeUnknown as exc:
        return error_response(504, "outcome_unknown", str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _CODES.get(exc.status, "http_error")
        text = exc.text
        message = exc.reason if text is None or text.startswith(str(exc.status)) else text
        allow = exc.headers.get("Allow")
        return error_response(
            exc.status, code, message, headers=None if allow is None else {"Allow": allow}
        )
    except Exception as exc:
        logger.exception("internal error serving %s %s", request.method, request.path)
        return error_response(500, "internal", f"{type(exc).__name__}: {exc}")
