"""Entry point of the `senate` command.

Subcommands live one per module and are imported only when used, so `senate check`
does not pay for aiohttp and `senate --help` stays fast. Exit codes (CONTRACT.md):
0 success, 1 the operation failed, 2 bad usage.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from senate import __version__
from senate.errors import SenateError

# name -> "module:attribute" of a click.Command
SUBCOMMANDS: dict[str, str] = {
    "check": "senate.cli.check_cmd:check",
    "sim": "senate.cli.sim_cmd:sim",
    "node": "senate.cli.node_cmd:node",
    "up": "senate.cli.up_cmd:up",
    "status": "senate.cli.status_cmd:status",
    "kv": "senate.cli.kv_cmd:kv",
    "lock": "senate.cli.lock_cmd:lock",
    "members": "senate.cli.members_cmd:members",
    "bench": "senate.cli.bench_cmd:bench",
}


def _available(name: str) -> bool:
    """A subcommand whose module is not in this build is not listed."""
    module_name = SUBCOMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module_name) is not None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in SUBCOMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None or not _available(cmd_name):
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="senate")
def cli() -> None:
    """Senate: replicated state by Raft, CRDTs, and proof by simulation."""


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SenateError as exc:
        click.echo(f"senate: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    else:
        sys.exit(0)
