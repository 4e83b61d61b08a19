"""`senate kv`: put, get, del, list, watch and txn against a cluster's HTTP API.

Rules this file keeps:
- Every subcommand takes `--endpoints` (comma-separated URLs; default
  $SENATE_ENDPOINTS, else the endpoints `senate up` serves) and talks through
  senate.client.Client, so it finds the leader, fails over and retries writes
  with one session (a retried write applies once).
- Exit codes (CONTRACT.md): 0 ok; 1 the operation failed, with a one-line
  message on stderr (key not found, compare failed, cluster unavailable); 2 bad
  usage. A client error is a SenateError, so `senate`'s main prints it in one line.
- Output is for people and scripts alike: `put`/`del` print the revision, `get`
  prints the value as is, `list` a table (or `--json`), `watch` one line per event
  (or `--json`, one object per line) and exits 0 on Ctrl-C, `txn` the JSON answer.
- `endpoints_option` and `make_client` are shared with `senate lock` and
  `senate members`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import IO, Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from senate.client import BadRequest, Client, KeyValue, parse_endpoints
from senate.client.retry import DEFAULT_ENDPOINTS, ENDPOINTS_ENV
from senate.errors import SenateError, UsageError

F = TypeVar("F", bound=Callable[..., Any])


def endpoints_option(f: F) -> F:
    return click.option(
        "--endpoints",
        envvar=ENDPOINTS_ENV,
        default=",".join(DEFAULT_ENDPOINTS),
        show_default=True,
        help=f"Comma-separated HTTP endpoints of the nodes (or ${ENDPOINTS_ENV}).",
    )(f)


def make_client(endpoints: str) -> Client:
    try:
        return Client(parse_endpoints(endpoints))
    except BadRequest as exc:
        raise UsageError(f"--endpoints: {exc}") from None


def _arg_bytes(text: str) -> bytes:
    # Arguments come from the OS as str with undecodable bytes escaped; undo that.
    return text.encode("utf-8", "surrogateescape")


def _shown(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return repr(value)


@click.group()
def kv() -> None:
    """Read and write keys of the replicated key-value store."""


@kv.command("put")
@click.argument("key")
@click.argument("value")
@click.option("--prev-revision", type=click.IntRange(min=0), help="Only if the key is at this "
              "revision (0: only if it does not exist).")  # fmt: skip
@click.option("--prev-value", help="Only if the key holds this value.")
@click.option("--lease", type=click.IntRange(min=1), help="Attach the key to this lease.")
@endpoints_option
def put(
    key: str,
    value: str,
    prev_revision: int | None,
    prev_value: str | None,
    lease: int | None,
    endpoints: str,
) -> None:
    """Store VALUE under KEY; prints the new revision."""
    with make_client(endpoints) as client:
        revision = client.put(
            key,
            _arg_bytes(value),
            prev_revision=prev_revision,
            prev_value=None if prev_value is None else _arg_bytes(prev_value),
            lease=lease,
        )
    click.echo(revision)


@kv.command("get")
@click.argument("key")
@click.option("--serializable", is_flag=True, help="Answer from the node's own state "
              "(fast, possibly stale) instead of a linearizable read.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print key, value and revisions as JSON.")
@endpoints_option
def get(key: str, serializable: bool, as_json: bool, endpoints: str) -> None:
    """Print the value of KEY (exit 1 if there is none)."""
    consistency = "serializable" if serializable else "linearizable"
    with make_client(endpoints) as client:
        found = client.get(key, consistency=consistency)
    if found is None:
        raise SenateError(f"key {key!r} not found")
    if as_json:
        click.echo(json.dumps(_kv_json(found)))
        return
    out = sys.stdout.buffer
    out.write(found.value + (b"" if found.value.endswith(b"\n") else b"\n"))
    out.flush()


@kv.command("del")
@click.argument("key")
@endpoints_option
def delete(key: str, endpoints: str) -> None:
    """Delete KEY; prints the revision (exit 1 if there was no such key)."""
    with make_client(endpoints) as client:
        result = client.delete(key)
    if not result.deleted:
        raise SenateError(f"key {key!r} not found; nothing deleted")
    click.echo(result.revision)


@kv.command("list")
@click.argument("prefix", default="")
@click.option("--serializable", is_flag=True, help="Answer from the node's own state.")
@click.option("--json", "as_json", is_flag=True, help="Print {revision, items} as JSON.")
@endpoints_option
def list_(prefix: str, serializable: bool, as_json: bool, endpoints: str) -> None:
    """List the keys under PREFIX (all keys if none) with their values and revisions."""
    consistency = "serializable" if serializable else "linearizable"
    with make_client(endpoints) as client:
        revision, items = client.range(prefix, consistency=consistency)
    if as_json:
        click.echo(json.dumps({"revision": revision, "items": [_kv_json(kv) for kv in items]}))
        return
    table = Table(caption=f"{len(items)} key(s) at revision {revision}")
    table.add_column("key", overflow="fold")
    table.add_column("value", overflow="fold")
    table.add_column("revision", justify="right")
    for item in items:
        table.add_row(item.key, _shown(item.value), str(item.revision))
    Console(highlight=False, soft_wrap=False).print(table)


def _kv_json(kv: KeyValue) -> dict[str, Any]:
    doc: dict[str, Any] = {"key": kv.key, "value": _shown(kv.value), "revision": kv.revision}
    for name in ("create_revision", "version", "lease"):
        if getattr(kv, name) is not None:
            doc[name] = getattr(kv, name)
    return doc


@kv.command("watch")
@click.argument("key", required=False)
@click.option("--prefix", help="Watch every key under this prefix instead of one key.")
@click.option("--from", "start", type=click.IntRange(min=1), help="Start at this revision "
              "(default: from now on).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event.")
@endpoints_option
def watch(
    key: str | None, prefix: str | None, start: int | None, as_json: bool, endpoints: str
) -> None:
    """Print changes to KEY (or under --prefix) as they happen; Ctrl-C stops."""
    if (key is None) == (prefix is None):
        raise UsageError("give either KEY or --prefix P")
    client = make_client(endpoints)
    try:
        for event in client.watch(key, prefix=prefix, start_revision=start):
            if as_json:
                doc: dict[str, Any] = {"type": event.type, "key": event.key}
                if event.value is not None:
                    doc["value"] = _shown(event.value)
                doc["revision"] = event.revision
                line = json.dumps(doc)
            else:
                value = "" if event.value is None else " " + _shown(event.value)
                line = f"{event.revision} {event.type.upper()} {event.key}{value}"
            click.echo(line)
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a watch ends: exit 0
    finally:
        client.close()


@kv.command("txn")
@click.argument("file", type=click.File("r"), default="-")
@endpoints_option
def txn(file: IO[str], endpoints: str) -> None:
    """Run the JSON transaction document in FILE (default: stdin) and print the answer.

    \b
    {"compare": [{"key": "k", "target": "value", "op": "==", "value": "old"}],
     "success": [{"op": "put", "key": "k", "value": "new"}],
     "failure": [{"op": "get", "key": "k"}]}
    """
    try:
        document = json.load(file)
    except ValueError as exc:
        raise UsageError(f"the transaction is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise UsageError("the transaction must be a JSON object")
    unknown = set(document) - {"compare", "success", "failure", "encoding"}
    if unknown:
        raise UsageError(f"unknown field(s) in the transaction: {', '.join(sorted(unknown))}")
    with make_client(endpoints) as client:
        try:
            answer = client.txn_document(document)
        except BadRequest as exc:
            raise UsageError(f"the server refused the transaction: {exc}") from None
    click.echo(json.dumps(answer, indent=2))


__all__ = ["endpoints_option", "kv", "make_client"]
