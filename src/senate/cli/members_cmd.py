"""`senate members [list|add|remove]`: the cluster's membership at runtime.

Rules this file keeps:
- `add ID --peer HOST:PORT --http HOST:PORT` asks the cluster to add a node (it
  joins as a learner and is promoted once caught up); start that node with
  `senate node --id ID ...` pointing at the cluster. `remove ID` takes one out.
- Same endpoints option, client and exit codes as `senate kv` (kv_cmd.py).
"""

from __future__ import annotations

import json
import re

import click
from rich.console import Console
from rich.table import Table

from senate.cli.kv_cmd import endpoints_option, make_client
from senate.errors import UsageError

_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")


def _host_port(flag: str, value: str) -> str:
    if not _HOST_PORT.match(value) or not 0 < int(value.rsplit(":", 1)[1]) < 65536:
        raise UsageError(f"{flag}: expected HOST:PORT, got {value!r}")
    return value


@click.group(invoke_without_command=True)
@click.pass_context
def members(ctx: click.Context) -> None:
    """List, add and remove the cluster's members (bare `senate members` lists them)."""
    if ctx.invoked_subcommand is None:
        # Parse an empty command line, so $SENATE_ENDPOINTS counts as it does for `list`.
        with list_.make_context("list", [], parent=ctx) as sub:
            list_.invoke(sub)


@members.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the members as JSON.")
@endpoints_option
def list_(as_json: bool, endpoints: str) -> None:
    """Show every member: id, peer and HTTP addresses, voter or learner."""
    with make_client(endpoints) as client:
        found = client.members()
    if as_json:
        docs = [{"id": m.id, "peer": m.peer, "http": m.http, "voter": m.voter} for m in found]
        click.echo(json.dumps(docs))
        return
    table = Table(title="senate members")
    for column in ("id", "peer", "http", "role"):
        table.add_column(column)
    for m in found:
        table.add_row(m.id, m.peer, m.http or "-", "voter" if m.voter else "learner")
    Console(highlight=False).print(table)


@members.command("add")
@click.argument("member_id", metavar="ID")
@click.option("--peer", required=True, help="HOST:PORT the new node's peers reach it on.")
@click.option("--http", "http_addr", required=True, help="HOST:PORT of the new node's API.")
@endpoints_option
def add(member_id: str, peer: str, http_addr: str, endpoints: str) -> None:
    """Add node ID (as a learner until it has caught up)."""
    peer = _host_port("--peer", peer)
    http_addr = _host_port("--http", http_addr)
    with make_client(endpoints) as client:
        client.member_add(member_id, peer, http_addr)
    click.echo(f"added {member_id} (peer {peer}, http {http_addr}); it votes once caught up")


@members.command("remove")
@click.argument("member_id", metavar="ID")
@endpoints_option
def remove(member_id: str, endpoints: str) -> None:
    """Remove node ID from the cluster."""
    with make_client(endpoints) as client:
        client.member_remove(member_id)
    click.echo(f"removed {member_id}")


__all__ = ["members"]
