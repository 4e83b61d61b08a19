"""Text for humans: a check result as plain lines (the CLI adds colour on a TTY).

Rule this file keeps: the plain text alone is complete and readable (logs, pipes,
CI output); colour is decoration added elsewhere, never the only carrier of meaning.
"""

from __future__ import annotations

import json

from senate.check.history import Event
from senate.check.linearizability import CheckResult, Verdict

HEADLINES = {
    Verdict.LINEARIZABLE: "LINEARIZABLE",
    Verdict.NOT_LINEARIZABLE: "NOT LINEARIZABLE",
    Verdict.UNKNOWN: "UNKNOWN",
}


def render_result(result: CheckResult) -> str:
    """The verdict line, the message, and on a violation the window, one event a line."""
    lines = [f"{HEADLINES[result.verdict]}: {result.message}"]
    if result.window:
        lines.append("")
        lines.append(f"window ({len(result.window)} events, in history order):")
        lines.extend("  " + format_event(event) for event in result.window)
    return "\n".join(lines)


def format_event(event: Event) -> str:
    """`t=1.5  process 3  invoke  write  'x'  5` with fixed-width columns."""
    value = json.dumps(list(event.value) if isinstance(event.value, tuple) else event.value)
    return (
        f"t={event.time:<10g} process {event.process:<4} {event.type:<6} {event.f:<6} "
        f"{event.key!r:<12} {value}"
    )
