"""`senate bench`: drive HTTP endpoints (Senate or etcd's v3 JSON gateway) with load.

    senate bench --endpoints http://127.0.0.1:8101,http://127.0.0.1:8102 \\
        --clients 16 --value-size 256 --duration 10 --mode write

Prints writes/s and reads/s with p50/p99 from raw per-request latencies (a rich
table, or one JSON object with --json). Bad flags exit 2; a run in which no
request succeeded exits 1. The driver is Python (see senate/benchtool/driver.py
for its cost); the Senate-vs-etcd comparison runs under wrk in bench/cluster_bench.py.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click
from rich.console import Console
from rich.table import Table

from senate.errors import SenateError

if TYPE_CHECKING:
    from senate.benchtool.driver import BenchResult


def _endpoints(ctx: click.Context, param: click.Parameter, raw: str) -> tuple[str, ...]:
    urls = tuple(u.strip().rstrip("/") for u in raw.split(",") if u.strip())
    if not urls:
        raise click.BadParameter("give at least one URL")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise click.BadParameter(f"{url!r} is not an http(s)://host:port URL")
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise click.BadParameter(f"{url!r} has a bad port") from None
    return urls


@click.command()
@click.option(
    "--endpoints",
    required=True,
    callback=_endpoints,
    help="Comma-separated base URLs; clients are spread over them round-robin.",
)
@click.option("--clients", type=click.IntRange(1, 4096), default=16, show_default=True)
@click.option("--value-size", type=click.IntRange(0, 1 << 20), default=256, show_default=True)
@click.option("--duration", type=click.FloatRange(0.1, 3600.0), default=None, help="Seconds.")
@click.option("--requests", type=click.IntRange(1), default=None, help="Total request budget.")
@click.option(
    "--mode", type=click.Choice(["write", "read", "mixed"]), default="write", show_default=True
)
@click.option(
    "--target", type=click.Choice(["senate", "etcd"]), default="senate", show_default=True
)
@click.option(
    "--keys",
    type=click.IntRange(1, 10_000_000),
    default=1000,
    show_default=True,
    help="Key space; reads prefill every key first.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def bench(
    endpoints: tuple[str, ...],
    clients: int,
    value_size: int,
    duration: float | None,
    requests: int | None,
    mode: str,
    target: str,
    keys: int,
    seed: int,
    as_json: bool,
) -> None:
    """Measure writes/s and reads/s with p50/p99 latency against HTTP endpoints."""
    from senate.benchtool.driver import BenchConfig, run_blocking

    if duration is not None and requests is not None:
        raise click.UsageError("give --duration or --requests, not both")
    if duration is None and requests is None:
        duration = 10.0
    config = BenchConfig(
        endpoints=endpoints,
        clients=clients,
        value_size=value_size,
        duration=duration,
        requests=requests,
        mode=mode,  # type: ignore[arg-type]  # click.Choice checked it
        target=target,  # type: ignore[arg-type]
        keys=keys,
        seed=seed,
    )
    result = run_blocking(config)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        _print_table(result)
    if not any(st.count for st in result.ops.values()):
        raise SenateError("no request succeeded (is the cluster up at those endpoints?)")


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _print_table(result: BenchResult) -> None:
    cfg = result.config
    console = Console(file=sys.stdout, highlight=False)
    title = (
        f"senate bench: {cfg.target}, {cfg.mode}, {cfg.clients} client(s), "
        f"{cfg.value_size}-byte values, {len(cfg.endpoints)} endpoint(s), "
        f"{result.elapsed:.1f} s"
    )
    table = Table(title=title)
    for name in ("op", "ok", "errors", "ops/s", "p50 ms", "p99 ms"):
        table.add_column(name, justify="left" if name == "op" else "right")
    for op, st in result.ops.items():
        errors = sum(st.errors.values())
        table.add_row(
            f"{op}s",
            str(st.count),
            str(errors),
            f"{result.rate(op):.1f}",
            _ms(st.percentile_ms(50)),
            _ms(st.percentile_ms(99)),
        )
    console.print(table)
    for op, st in result.ops.items():
        if st.errors:
            kinds = ", ".join(f"{k}: {n}" for k, n in st.errors.most_common())
            console.print(f"{op} errors: {kinds}")
    if result.prefilled:
        console.print(f"prefilled {result.prefilled} key(s) before timing")
    console.print("latencies: raw per request (closed loop, no coordinated-omission correction)")
