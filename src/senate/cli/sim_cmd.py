"""`senate sim`: run the deterministic simulator for one seed or a range of seeds.

    senate sim --seed S [--nodes 5] [--ops N] [--faults partition,drop,dup,crash,pause,skew]
               (--faults all, the default: every kind, membership changes included)
               [--protocol raft] [--mutant NAME] [--trace FILE] [--history FILE]
    senate sim --seeds A..B [same options]

Exit status: 0 every run passed, 1 a run failed (an invariant broke or the history
is not linearizable / could not be decided; the exact replay command is printed),
2 bad usage (one line on stderr).
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from typing import Any, TextIO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from senate.errors import UsageError
from senate.sim import FaultConfig, SimConfig, SimResult, run_simulation
from senate.sim.engines import PROTOCOLS, engine_factory


class _OneLineUsage(click.Command):
    """Bad flags become a one-line `senate: ...` message with exit status 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise UsageError(f"sim: {exc.format_message()}") from exc


def _parse_seeds(text: str) -> range:
    lo, sep, hi = text.partition("..")
    try:
        a, b = int(lo), int(hi)
    except ValueError:
        raise UsageError(f"sim: --seeds wants A..B (two integers), got {text!r}") from None
    if not sep or b < a:
        raise UsageError(f"sim: --seeds wants A..B with A <= B, got {text!r}")
    return range(a, b + 1)


def _summary(result: SimResult) -> Table:
    cfg = result.config
    table = Table(title=f"senate sim --seed {cfg.seed}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("protocol", cfg.protocol + (f" (mutant {cfg.mutant})" if cfg.mutant else ""))
    table.add_row("nodes / ops", f"{cfg.nodes} / {cfg.ops}")
    if result.engine_config is not None:
        table.add_row("engine config", repr(result.engine_config))
    table.add_row("simulated time", f"{result.sim_time_us / 1e6:.3f} s ({result.events} events)")
    table.add_row("leaders elected", str(result.leaders_elected))
    table.add_row("entries committed", str(result.entries_committed))
    faults = ", ".join(f"{k}={v}" for k, v in result.faults.items()) or "none"
    table.add_row("faults injected", faults)
    if result.conf_changes:
        changes = ", ".join(f"{k}={v}" for k, v in result.conf_changes.items())
        table.add_row("membership changes applied", changes)
    net = result.net
    table.add_row(
        "messages",
        f"sent={net['sent']} delivered={net['delivered']} dropped={net['dropped']} "
        f"dup={net['duplicated']} blocked={net['blocked']} overflow={net['overflowed']}",
    )
    ops = result.ops
    table.add_row(
        "ops",
        f"ok={ops['ok']} fail={ops['fail']} info={ops['info']} "
        f"(ok after the final heal: {result.ops_ok_after_heal})",
    )
    table.add_row("verdict", f"{result.verdict}: {result.check_message}")
    table.add_row(
        "invariants",
        "all held" if not result.violations else "; ".join(str(v) for v in result.violations),
    )
    return table


def _write_history(path: str, result: SimResult) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for event in result.history:
            out.write(json.dumps(event, separators=(",", ":")) + "\n")


def _report_failure(console: Console, result: SimResult) -> None:
    console.print(f"[bold red]FAILED[/] seed {result.config.seed}: {result.failure()}")
    console.print("replay with:")
    console.print(result.replay_command, markup=False, highlight=False, soft_wrap=True)


@click.command("sim", cls=_OneLineUsage)
@click.option("--seed", type=int, default=None, help="Run one seed.")
@click.option("--seeds", "seed_range", default=None, help="Run seeds A..B (inclusive).")
@click.option("--nodes", type=click.IntRange(1, 15), default=5, show_default=True)
@click.option("--ops", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option(
    "--faults",
    default="all",
    show_default=True,
    help="Comma list of latency,drop,dup,reorder,queue,partition,crash,pause,skew,membership; "
    "all (every one); none.",
)
@click.option("--protocol", default="raft", show_default=True, help="Consensus engine.")
@click.option("--mutant", default=None, help="Run a deliberately broken variant of the engine.")
@click.option("--trace", "trace_path", default=None, help="Write the event trace to FILE.")
@click.option("--history", "history_path", default=None, help="Write the history (JSONL).")
def sim(
    seed: int | None,
    seed_range: str | None,
    nodes: int,
    ops: int,
    faults: str,
    protocol: str,
    mutant: str | None,
    trace_path: str | None,
    history_path: str | None,
) -> None:
    """Simulate a cluster under faults; check invariants and linearizability."""
    if (seed is None) == (seed_range is None):
        raise UsageError("sim: give exactly one of --seed S or --seeds A..B")
    fault_cfg = FaultConfig.parse(faults)
    if protocol not in PROTOCOLS:
        raise UsageError(f"sim: unknown protocol {protocol!r} (choose from {', '.join(PROTOCOLS)})")
    engine_factory(protocol, mutant)  # refuses an unknown mutant before any run
    console = Console(highlight=False)

    def config(s: int, trace: TextIO | None = None) -> SimConfig:
        return SimConfig(
            seed=s,
            nodes=nodes,
            ops=ops,
            faults=fault_cfg,
            protocol=protocol,
            mutant=mutant,
            trace=trace,
        )

    if seed is not None:
        with ExitStack() as stack:
            trace = None
            if trace_path is not None:
                trace = stack.enter_context(_open_for_write(trace_path))
            result = run_simulation(config(seed, trace))
        if history_path is not None:
            _write_history(history_path, result)
        console.print(_summary(result))
        console.print(f"trace hash {result.trace_hash}", soft_wrap=True)
        if not result.ok:
            _report_failure(console, result)
            sys.exit(1)
        console.print(f"[green]ok[/] seed {seed}")
        return

    assert seed_range is not None
    seeds = _parse_seeds(seed_range)
    if trace_path is not None or history_path is not None:
        raise UsageError("sim: --trace and --history go with --seed, not --seeds")
    failed: SimResult | None = None
    totals: dict[str, Any] = {"ok": 0, "fail": 0, "info": 0, "events": 0}
    with Progress(
        TextColumn("seeds"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("", total=len(seeds))
        for s in seeds:
            result = run_simulation(config(s))
            for k in ("ok", "fail", "info"):
                totals[k] += result.ops[k]
            totals["events"] += result.events
            progress.update(task, advance=1, description=f"seed {s}")
            if not result.ok:
                failed = result
                break
    if failed is not None:
        console.print(_summary(failed))
        console.print(f"trace hash {failed.trace_hash}", soft_wrap=True)
        _report_failure(console, failed)
        sys.exit(1)
    console.print(
        f"[green]ok[/] {len(seeds)} seeds ({seeds.start}..{seeds.stop - 1}): "
        f"ops ok={totals['ok']} fail={totals['fail']} info={totals['info']}, "
        f"{totals['events']} events"
    )


def _open_for_write(path: str) -> TextIO:
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"sim: cannot write {path}: {exc.strerror}") from exc
