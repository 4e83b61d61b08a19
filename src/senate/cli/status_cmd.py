"""`senate status`: one table of what every node says about itself.

Rules this file keeps:
- Asks GET /v1/status of each endpoint (--endpoints, else $SENATE_ENDPOINTS, else
  the endpoints `senate up` uses with its default base port, as `senate kv` does)
  with a short timeout, all at once, and prints one row per endpoint: id, role,
  term, leader, commit and applied indexes, members.
  The title names the consensus protocol the nodes report (all of them when
  they disagree, which is a misconfigured cluster).
  An endpoint that does not answer gets a row saying so; it is not an error
  unless none answers (exit 1).
- `--json` prints the raw answers (a list, null for a silent endpoint) for scripts.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from senate.cli.kv_cmd import endpoints_option
from senate.errors import SenateError, UsageError

TIMEOUT = 2.0


def fetch_status(url: str, timeout: float = TIMEOUT) -> dict[str, Any] | str:
    """The node's /v1/status body, or a short reason why there is none."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/v1/status", timeout=timeout) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        return str(exc.reason)
    except (OSError, ValueError) as exc:
        return type(exc).__name__
    return body if isinstance(body, dict) else "not a status object"


@click.command()
@endpoints_option
@click.option("--json", "as_json", is_flag=True, help="Print the raw status objects.")
def status(endpoints: str, as_json: bool) -> None:
    """Show the protocol, members, roles, terms, the leader, commit and applied indexes."""
    urls = [u.strip() for u in endpoints.split(",") if u.strip()]
    if not urls:
        raise UsageError("--endpoints: no endpoint given")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--endpoints: {url!r} is not an http:// URL")
    with ThreadPoolExecutor(len(urls)) as pool:
        answers = list(pool.map(fetch_status, urls))
    if as_json:
        click.echo(json.dumps([a if isinstance(a, dict) else None for a in answers], indent=2))
    else:
        Console(highlight=False).print(_table(urls, answers))
    if not any(isinstance(a, dict) for a in answers):
        raise SenateError("no node answered")


def _title(answers: list[dict[str, Any] | str]) -> str:
    protocols = sorted({str(a.get("protocol", "?")) for a in answers if isinstance(a, dict)})
    if not protocols:
        return "senate cluster status"
    if len(protocols) == 1:
        return f"senate cluster status ({protocols[0]})"
    return f"senate cluster status (mixed protocols: {', '.join(protocols)})"


def _table(urls: list[str], answers: list[dict[str, Any] | str]) -> Table:
    table = Table(title=_title(answers))
    for name in ("endpoint", "id", "role", "term", "leader", "commit", "applied", "members"):
        justify = "right" if name in ("term", "commit", "applied") else "left"
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for url, ans in zip(urls, answers, strict=True):
        where = url.split("://", 1)[-1]
        if isinstance(ans, str):
            table.add_row(where, "-", f"[red]unreachable[/] ({ans})", "", "", "", "", "")
            continue
        role = str(ans.get("role", "?"))
        style = {"leader": "bold green", "follower": "", "candidate": "yellow"}.get(role, "yellow")
        members = ans.get("members", [])
        member_text = ", ".join(
            f"{m.get('id')}{'' if m.get('voter', True) else ' (learner)'}"
            for m in members
            if isinstance(m, dict)
        )
        table.add_row(
            where,
            str(ans.get("id", "?")),
            f"[{style}]{role}[/]" if style else role,
            str(ans.get("term", "")),
            str(ans.get("leader") or "-"),
            str(ans.get("commit_index", "")),
            str(ans.get("applied_index", "")),
            member_text,
        )
    return table
