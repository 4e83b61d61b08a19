"""History checkers: is what the system did explainable by a correct, atomic store?

- history.py: the JSON-lines history format, its parser and validation;
- model.py: the key-value register model (read, write, cas, delete);
- search.py: Wing & Gong search with Lowe's memoization (Porcupine's algorithm);
- window.py: shrinking a violation to a small window that still shows it;
- linearizability.py: `check_events`, per key, with a step budget;
- render.py: the result as text for humans.
"""

from senate.check.history import Event, events_from_dicts, load_history, parse_events
from senate.check.linearizability import CheckResult, Verdict, check_events
from senate.check.render import render_result

__all__ = [
    "CheckResult",
    "Event",
    "Verdict",
    "check_events",
    "events_from_dicts",
    "load_history",
    "parse_events",
    "render_result",
]
