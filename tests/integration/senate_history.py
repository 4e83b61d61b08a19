"""Concurrent KV clients against a real cluster, recording a history in senate.check's format.

Outcome rules of the recorder (what each answer proves about a write):
- 200 -> ok; 409 compare_failed -> fail (the cas was evaluated and changed nothing);
- 503 -> fail (the node never handed the write to a leader: it did not apply);
- connection refused -> fail (the request never reached a node);
- 504, a timeout or a connection cut mid-request -> info (it may or may not apply).
Reads that do not come back with 200/404 are recorded as info (they constrain nothing).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

from senate_harness import Cluster, http, key_path

from senate.check import CheckResult, check_events, events_from_dicts

KEYS = ("x", "y", "z")
PROCESSES = 5


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._counter = 0

    def record(self, process: int, type_: str, f: str, key: str, value: Any) -> None:
        with self._lock:
            self.events.append(
                {
                    "process": process,
                    "type": type_,
                    "f": f,
                    "key": key,
                    "value": value,
                    "time": round(time.monotonic() - self._t0, 6),
                }
            )

    def fresh(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter


def _client(c: Cluster, rec: Recorder, process: int, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    last: dict[str, int] = {}
    urls = [n.url for n in c.nodes.values()]
    while not stop.is_set():
        url = rng.choice(urls)
        key = rng.choice(KEYS)
        roll = rng.random()
        if roll < 0.4:
            _read(rec, process, url, key, last)
        elif roll < 0.45:
            _delete(rec, process, url, key, last)
        elif roll < 0.8 or key not in last:
            _write(rec, process, url, key, rec.fresh(), last)
        else:
            _cas(rec, process, url, key, last[key], rec.fresh(), last)


def _read(rec: Recorder, process: int, url: str, key: str, last: dict[str, int]) -> None:
    rec.record(process, "invoke", "read", key, None)
    try:
        resp = http("GET", url + key_path(key), timeout=6.0)
    except OSError:
        rec.record(process, "info", "read", key, None)
        time.sleep(0.05)
        return
    if resp.status == 200:
        value = int(resp.body)
        last[key] = value
        rec.record(process, "ok", "read", key, value)
    elif resp.status == 404:
        rec.record(process, "ok", "read", key, None)
    else:
        rec.record(process, "info", "read", key, None)


def _write(
    rec: Recorder, process: int, url: str, key: str, value: int, last: dict[str, int]
) -> None:
    rec.record(process, "invoke", "write", key, value)
    outcome = _send(url + key_path(key), str(value).encode())
    rec.record(process, outcome, "write", key, value)
    if outcome == "ok":
        last[key] = value


def _cas(
    rec: Recorder, process: int, url: str, key: str, old: int, new: int, last: dict[str, int]
) -> None:
    rec.record(process, "invoke", "cas", key, [old, new])
    outcome = _send(f"{url}{key_path(key)}?prev_value={old}", str(new).encode())
    rec.record(process, outcome, "cas", key, [old, new])
    if outcome == "ok":
        last[key] = new


def _delete(rec: Recorder, process: int, url: str, key: str, last: dict[str, int]) -> None:
    rec.record(process, "invoke", "delete", key, None)
    outcome = _send(url + key_path(key), None, "DELETE")
    rec.record(process, outcome, "delete", key, None)
    if outcome == "ok":
        last.pop(key, None)


def _send(url: str, body: bytes | None, method: str = "PUT") -> str:
    try:
        resp = http(method, url, body, timeout=6.0)
    except ConnectionRefusedError:
        time.sleep(0.05)
        return "fail"
    except OSError:
        return "info"
    if resp.status == 200:
        return "ok"
    if resp.status in (409, 503):
        return "fail"
    return "info"


@contextlib.contextmanager
def clients_running(c: Cluster, processes: int = PROCESSES) -> Iterator[Recorder]:
    """Run `processes` client threads for the body of the with-block; join them after."""
    rec = Recorder()
    stop = threading.Event()
    threads = [
        threading.Thread(target=_client, args=(c, rec, p, stop, 1000 + p), daemon=True)
        for p in range(processes)
    ]
    for t in threads:
        t.start()
    try:
        yield rec
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
    assert not any(t.is_alive() for t in threads), "a client thread hung"


def judge(rec: Recorder, min_writes: int = 20) -> CheckResult:
    """Check the recorded history; it must hold enough acknowledged writes to mean something."""
    events = events_from_dicts(rec.events)
    writes_ok = sum(1 for e in events if e.type == "ok" and e.f in ("write", "cas"))
    assert writes_ok >= min_writes, f"only {writes_ok} acknowledged writes"
    return check_events(events)


def ok_count(rec: Recorder) -> int:
    return sum(1 for e in list(rec.events) if e["type"] == "ok")
