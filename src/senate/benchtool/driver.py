"""The `senate bench` load driver: C concurrent asyncio clients over aiohttp.

Theory of operation: each client is one coroutine with its own keep-alive
connection (clients are spread round-robin over the endpoints). A client sends
one request, waits for the answer, records the raw latency of that request
(perf_counter_ns around the whole exchange, body read included), and sends the
next: a closed loop, so the latencies are what a client of this concurrency
sees; there is no coordinated-omission correction and no synthetic samples.
Percentiles are nearest-rank over every recorded latency.

Rules this file keeps:
- The run is bounded: by `duration` seconds or by `requests` requests in total
  (whichever the config sets), plus one request timeout per client at most.
- A request counts as done only with a success answer (Senate 200; etcd 200 with
  the key found for reads). Anything else is an error, counted by kind, never
  timed into the percentiles.
- Before a run that reads, every key of the key space is written once (untimed),
  so reads never measure the cheaper "missing key" path.

Cost: CPython + aiohttp spend roughly 200-400 us of CPU per request here, so on a
small machine this driver saturates near a few thousand requests/s. Comparisons
between systems belong to bench/cluster_bench.py, which drives both with wrk.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import aiohttp

Mode = Literal["write", "read", "mixed"]
TargetName = Literal["senate", "etcd"]
Op = Literal["write", "read"]

REQUEST_TIMEOUT = 10.0  # seconds; a slower answer is an error ("timeout")
PREFILL_CLIENTS = 16


@dataclass(slots=True, frozen=True)
class BenchConfig:
    endpoints: tuple[str, ...]
    clients: int = 16
    value_size: int = 256
    duration: float | None = 10.0
    requests: int | None = None
    mode: Mode = "write"
    target: TargetName = "senate"
    keys: int = 1000
    read_share: float = 0.5  # fraction of reads in mixed mode
    seed: int = 1


@dataclass(slots=True)
class OpStats:
    latencies_ns: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return len(self.latencies_ns)

    def percentile_ms(self, pct: float) -> float | None:
        return percentile_ms(self.latencies_ns, pct)


@dataclass(slots=True)
class BenchResult:
    config: BenchConfig
    elapsed: float  # seconds of the timed phase
    ops: dict[Op, OpStats]
    prefilled: int = 0

    def rate(self, op: Op) -> float:
        return self.ops[op].count / self.elapsed if self.elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "target": self.config.target,
            "mode": self.config.mode,
            "clients": self.config.clients,
            "value_size": self.config.value_size,
            "elapsed_s": round(self.elapsed, 3),
            "prefilled": self.prefilled,
        }
        for op, st in self.ops.items():
            out[op] = {
                "count": st.count,
                "per_s": round(self.rate(op), 1),
                "p50_ms": _round(st.percentile_ms(50)),
                "p99_ms": _round(st.percentile_ms(99)),
                "errors": dict(st.errors),
            }
        return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def percentile_ms(latencies_ns: Sequence[int], pct: float) -> float | None:
    """Nearest-rank percentile of raw samples, in milliseconds; None with no samples."""
    if not latencies_ns:
        return None
    ordered = sorted(latencies_ns)
    rank = max(1, min(len(ordered), -(-len(ordered) * pct // 100)))
    return ordered[int(rank) - 1] / 1e6


def key_name(i: int) -> str:
    return f"bench-{i:06d}"


# ---- targets: how one write or read looks on the wire -----------------------------


@dataclass(slots=True, frozen=True)
class Request:
    method: str
    url: str
    body: bytes | None
    headers: dict[str, str] | None


class Target(abc.ABC):
    """Builds requests and judges answers for one kind of server."""

    @abc.abstractmethod
    def write(self, endpoint: str, key: str, value: bytes) -> Request:
        """The request that puts `value` at `key` through `endpoint`."""

    @abc.abstractmethod
    def read(self, endpoint: str, key: str) -> Request:
        """The request that reads `key` linearizably through `endpoint`."""

    def judge(self, op: Op, status: int, body: bytes) -> str | None:
        """None on success, else a short error kind."""
        return None if status == 200 else f"http {status}"


class SenateTarget(Target):
    def write(self, endpoint: str, key: str, value: bytes) -> Request:
        return Request("PUT", f"{endpoint}/v1/kv/{key}", value, None)

    def read(self, endpoint: str, key: str) -> Request:
        return Request("GET", f"{endpoint}/v1/kv/{key}?consistency=linearizable", None, None)


class EtcdTarget(Target):
    """etcd v3 JSON gateway: base64 keys and values; serializable=false reads."""

    _JSON = {"Content-Type": "application/json"}

    def write(self, endpoint: str, key: str, value: bytes) -> Request:
        body = json.dumps({"key": _b64(key.encode()), "value": _b64(value)}).encode()
        return Request("POST", f"{endpoint}/v3/kv/put", body, self._JSON)

    def read(self, endpoint: str, key: str) -> Request:
        body = json.dumps({"key": _b64(key.encode()), "serializable": False}).encode()
        return Request("POST", f"{endpoint}/v3/kv/range", body, self._JSON)

    def judge(self, op: Op, status: int, body: bytes) -> str | None:
        if status != 200:
            return f"http {status}"
        if op == "read" and b'"kvs"' not in body:
            return "key missing"
        return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


TARGETS: dict[TargetName, Callable[[], Target]] = {"senate": SenateTarget, "etcd": EtcdTarget}


# ---- the run ---------------------------------------------------------------------


@dataclass(slots=True)
class _Budget:
    """Shared stop condition: a deadline and/or a number of requests left."""

    deadline: float | None
    left: int | None

    def take(self) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return False
        if self.left is not None:
            if self.left <= 0:
                return False
            self.left -= 1
        return True


async def _exchange(session: aiohttp.ClientSession, req: Request) -> tuple[int, bytes]:
    async with session.request(req.method, req.url, data=req.body, headers=req.headers) as resp:
        return resp.status, await resp.read()


async def _client(
    session: aiohttp.ClientSession,
    target: Target,
    endpoint: str,
    config: BenchConfig,
    value: bytes,
    budget: _Budget,
    ops: dict[Op, OpStats],
    rng: random.Random,
) -> None:
    while budget.take():
        key = key_name(rng.randrange(config.keys))
        op: Op
        if config.mode == "mixed":
            op = "read" if rng.random() < config.read_share else "write"
        else:
            op = config.mode
        req = target.read(endpoint, key) if op == "read" else target.write(endpoint, key, value)
        start = time.perf_counter_ns()
        try:
            status, body = await _exchange(session, req)
        except TimeoutError:
            ops[op].errors["timeout"] += 1
            continue
        except aiohttp.ClientError as exc:
            ops[op].errors[type(exc).__name__] += 1
            await asyncio.sleep(0.05)  # a refused connection must not spin the loop
            continue
        elapsed = time.perf_counter_ns() - start
        problem = target.judge(op, status, body)
        if problem is None:
            ops[op].latencies_ns.append(elapsed)
        else:
            ops[op].errors[problem] += 1


async def _prefill(
    session: aiohttp.ClientSession, target: Target, config: BenchConfig, value: bytes
) -> int:
    """Write every key once (untimed); returns how many writes succeeded."""
    queue = list(range(config.keys))
    done = 0

    async def worker(idx: int) -> None:
        nonlocal done
        endpoint = config.endpoints[idx % len(config.endpoints)]
        while queue:
            req = target.write(endpoint, key_name(queue.pop()), value)
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                status, body = await _exchange(session, req)
                if target.judge("write", status, body) is None:
                    done += 1

    await asyncio.gather(*(worker(i) for i in range(PREFILL_CLIENTS)))
    return done


async def run(config: BenchConfig) -> BenchResult:
    """Run one benchmark as `config` says and return raw counts and latencies."""
    rng = random.Random(config.seed)
    value = bytes(rng.randrange(33, 127) for _ in range(config.value_size))
    target = TARGETS[config.target]()
    ops: dict[Op, OpStats] = {}
    if config.mode in ("write", "mixed"):
        ops["write"] = OpStats()
    if config.mode in ("read", "mixed"):
        ops["read"] = OpStats()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        prefilled = 0
        if "read" in ops:
            prefilled = await _prefill(session, target, config, value)
        start = time.monotonic()
        budget = _Budget(
            deadline=None if config.duration is None else start + config.duration,
            left=config.requests,
        )
        await asyncio.gather(
            *(
                _client(
                    session,
                    target,
                    config.endpoints[i % len(config.endpoints)],
                    config,
                    value,
                    budget,
                    ops,
                    random.Random(config.seed * 1_000_003 + i),
                )
                for i in range(config.clients)
            )
        )
        elapsed = time.monotonic() - start
    return BenchResult(config=config, elapsed=elapsed, ops=ops, prefilled=prefilled)


async def prefill(config: BenchConfig) -> int:
    """Write every key of `config`'s key space once; how many writes succeeded."""
    rng = random.Random(config.seed)
    value = bytes(rng.randrange(33, 127) for _ in range(config.value_size))
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=timeout
    ) as session:
        return await _prefill(session, TARGETS[config.target](), config, value)


def run_blocking(config: BenchConfig) -> BenchResult:
    """`run` on a fresh event loop (uvloop when installed: a cheaper client)."""
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return asyncio.run(run(config))
    return uvloop.run(run(config))  # type: ignore[no-any-return, unused-ignore]
