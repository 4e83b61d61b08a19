"""`senate check HISTORY.jsonl`: judge a recorded history for linearizability.

Rules this file keeps:
- Exit status: 0 linearizable, 1 not linearizable, 2 unknown (step budget ran out) or
  a malformed / unreadable file, whose first bad line the message names.
- Output is plain, complete text; on a terminal the verdict is coloured (rich). A user
  never sees a traceback: every expected error is caught here and printed on one line.
- Exit codes are raised as SystemExit because `senate.cli.main` runs click with
  standalone_mode=False, where click would swallow `ctx.exit(code)`.
"""

from __future__ import annotations

import sys
import time

import click
from rich.console import Console
from rich.text import Text

from senate.check import CheckResult, Verdict, check_events, load_history, parse_events
from senate.check.linearizability import DEFAULT_MAX_STEPS
from senate.check.render import HEADLINES, render_result
from senate.errors import MalformedInput

EXIT_CODES = {Verdict.LINEARIZABLE: 0, Verdict.NOT_LINEARIZABLE: 1, Verdict.UNKNOWN: 2}
STYLES = {
    Verdict.LINEARIZABLE: "bold green",
    Verdict.NOT_LINEARIZABLE: "bold red",
    Verdict.UNKNOWN: "bold yellow",
}


@click.command()
@click.argument("history", metavar="HISTORY.jsonl")
@click.option(
    "--max-steps",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_STEPS,
    show_default=True,
    help="Search budget; when it runs out the verdict is 'unknown' (exit 2).",
)
def check(history: str, max_steps: int) -> None:
    """Check a JSON-lines HISTORY (or - for stdin) for linearizability.

    Exit status: 0 linearizable, 1 not linearizable, 2 unknown or malformed file.
    """
    started = time.perf_counter()
    try:
        events = parse_events(sys.stdin) if history == "-" else load_history(history)
        result = check_events(events, max_steps=max_steps)
    except MalformedInput as exc:
        click.echo(f"senate check: malformed history: {exc}", err=True)
        raise SystemExit(2) from None
    elapsed = time.perf_counter() - started
    _print(result, elapsed)
    raise SystemExit(EXIT_CODES[result.verdict])


def _print(result: CheckResult, elapsed: float) -> None:
    # soft_wrap keeps long lines whole in pipes; Text avoids reading "[1, 2]" as markup.
    console = Console(highlight=False, soft_wrap=True)
    headline = HEADLINES[result.verdict]
    body = render_result(result)[len(headline) :]
    console.print(Text.assemble((headline, STYLES[result.verdict]), body))
    console.print(Text(f"(checked in {elapsed:.2f} s)", style="dim"))
