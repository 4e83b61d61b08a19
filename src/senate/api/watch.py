"""GET /v1/watch: a stream of changes to a key or a prefix, resumable without gaps.

    GET /v1/watch?key=K | ?prefix=P [&start_revision=N] [&encoding=base64]
                 [&progress_interval=SECONDS]
    -> 200, newline-delimited JSON, oldest first:
       {"type": "put"|"delete", "key", "value", "revision"}
       {"type": "progress", "revision"}          when idle for progress_interval (5 s)
       {"type": "error", "error", "message"}     last line if the server ends the stream
    -> 410 {"error": "compacted", "oldest_revision"} if N is older than the history
    Header X-Senate-Revision: R, the stream holds every matching change after R
       (N - 1 with start_revision; else this node's revision when the watch began).
       Gap-free "list, then watch": start_revision = the listing's revision + 1.

Rules this file keeps:
- Served from this node's own WatchHub, which its apply loop feeds; events come
  in revision order exactly once (kv/watch.py), so a client that reconnects with
  start_revision = last seen revision + 1 misses nothing and sees nothing twice.
  A watch without start_revision starts after this node's current revision.
- The hub calls back inside apply; the callback only appends to an asyncio.Queue.
  A client too slow to keep up (MAX_BACKLOG events queued) gets an "error" line
  ("too_slow") and the stream ends; it resumes from its last revision.
- A deleted key's event has "value": "" (and no value); a value that is not UTF-8
  in text mode comes as "value": null plus "value_base64".
- The watcher is cancelled whatever ends the stream (client gone, shutdown, error).
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from aiohttp import web

from senate.api.errors import ApiError, error_response
from senate.errors import MalformedInput
from senate.kv import Compacted, Event, EventKind, Watcher
from senate.kv.commands import check_key
from senate.runtime.node import Node

PROGRESS_INTERVAL = 5.0  # seconds of silence before a progress line
MAX_BACKLOG = 10_000  # events queued for one slow client before its stream ends

_Item = list[Event] | BaseException | None  # events, the reason it closed, or closed


async def watch_stream(request: web.Request, node: Node) -> web.StreamResponse:
    q = request.query
    key, prefix = q.get("key"), q.get("prefix")
    if (key is None) == (prefix is None):
        raise ApiError(400, "bad_request", "watch exactly one of ?key= or ?prefix=")
    if key is not None:
        check_key(key)
    if prefix is not None and "\x00" in prefix:
        raise MalformedInput("prefix must not contain NUL")
    start = _int(q.get("start_revision"), "start_revision", 1)
    b64 = _encoding(q.get("encoding", "text"))
    interval = _interval(q.get("progress_interval"))
    queue: asyncio.Queue[_Item] = asyncio.Queue()
    backlog = 0

    def on_events(events: list[Event]) -> None:
        nonlocal backlog
        backlog += len(events)
        if backlog > MAX_BACKLOG:
            raise _TooSlow  # the hub closes this watcher; on_close tells the stream
        queue.put_nowait(events)

    def on_close(watcher: Watcher) -> None:
        queue.put_nowait(watcher.error)

    hub = node.kv.watch_hub
    try:
        # No await between reading the revision and registering: nothing slips by.
        after = hub.revision if start is None else start - 1
        watcher = hub.watch(start, on_events, key=key, prefix=prefix, on_close=on_close)
    except Compacted as exc:
        return error_response(410, "compacted", str(exc), oldest_revision=exc.oldest_revision)
    headers = {"Content-Type": "application/x-ndjson", "X-Senate-Revision": str(after)}
    resp = web.StreamResponse(headers=headers)
    try:
        await resp.prepare(request)
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=interval)
            except TimeoutError:
                await _line(resp, {"type": "progress", "revision": hub.revision})
                continue
            if isinstance(item, list):
                backlog -= len(item)
                for event in item:
                    await _line(resp, _event(event, b64))
                continue
            await _line(resp, _closing(item))
            break
        await resp.write_eof()
    except ConnectionError:
        pass  # the client went away: nothing to tell it
    finally:
        watcher.cancel()
    return resp


class _TooSlow(Exception):
    """Raised from the hub callback to close the watcher of a slow client."""


async def _line(resp: web.StreamResponse, obj: dict[str, Any]) -> None:
    await resp.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")


def _closing(reason: BaseException | None) -> dict[str, Any]:
    if isinstance(reason, Compacted):
        return {
            "type": "error",
            "error": "compacted",
            "message": str(reason),
            "oldest_revision": reason.oldest_revision,
        }
    if isinstance(reason, _TooSlow):
        return {
            "type": "error",
            "error": "too_slow",
            "message": f"over {MAX_BACKLOG} events waiting; resume from the last revision + 1",
        }
    return {"type": "error", "error": "closed", "message": "the watch was closed"}


def _event(event: Event, b64: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "put" if event.kind is EventKind.PUT else "delete",
        "key": event.key,
        "revision": event.revision,
    }
    value = event.value
    if b64:
        out["value"] = base64.b64encode(value).decode("ascii")
        return out
    try:
        out["value"] = value.decode("utf-8")
    except UnicodeDecodeError:
        out["value"] = None
        out["value_base64"] = base64.b64encode(value).decode("ascii")
    return out


def _int(text: str | None, name: str, low: int) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < low or int(text) > (1 << 63) - 1:
        raise ApiError(400, "bad_request", f"{name} must be an integer >= {low}")
    return int(text)


def _encoding(text: str) -> bool:
    if text not in ("text", "base64"):
        raise ApiError(400, "bad_request", f"encoding must be text or base64, got {text!r}")
    return text == "base64"


def _interval(text: str | None) -> float:
    if text is None:
        return PROGRESS_INTERVAL
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.05 <= value <= 300.0:
        raise ApiError(400, "bad_request", "progress_interval must be 0.05..300 seconds")
    return value
