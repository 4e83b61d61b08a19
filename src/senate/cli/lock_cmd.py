"""`senate lock NAME -- COMMAND...`: run a command while holding a cluster-wide lock.

Rules this file keeps:
- Acquire (waiting up to --wait seconds), print `fencing_token=N`, run COMMAND
  with SENATE_FENCING_TOKEN (and SENATE_LOCK_LEASE) in its environment, release,
  and exit with the command's exit status (128+N if a signal N ended it).
- The lock's lease (--ttl) is renewed every ttl/3 s while the command runs, so a
  long command keeps the lock; if this process dies the lease expires and the
  lock frees itself within ttl. If the lease is lost anyway (the cluster was
  unreachable for a whole ttl) a warning says so: the token may have passed on,
  which is exactly what the fencing token lets the protected resource detect.
- `--hold` instead of a command: hold the lock until Ctrl-C or SIGTERM (exit 0).
- Ctrl-C reaches the command (same process group); SIGTERM is passed on to it.
  Either way the lock is released after the command exits.
- Exit 1 with one line if the lock is not acquired in time or the command cannot
  be started; exit 2 on bad usage (neither or both of COMMAND and --hold).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from types import FrameType

import click

from senate.cli.kv_cmd import endpoints_option, make_client
from senate.client import Client, KeepAlive, LockGrant, LockTimeout, NotFound
from senate.errors import SenateError, UsageError

TOKEN_ENV = "SENATE_FENCING_TOKEN"
LEASE_ENV = "SENATE_LOCK_LEASE"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("--ttl", type=click.IntRange(min=1), default=10, show_default=True,
              help="Seconds the lock outlives this process if it dies.")  # fmt: skip
@click.option("--wait", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds to wait for the lock before giving up (exit 1).")  # fmt: skip
@click.option("--hold", is_flag=True, help="Hold the lock until Ctrl-C or SIGTERM.")
@endpoints_option
def lock(
    name: str, command: tuple[str, ...], ttl: int, wait: float, hold: bool, endpoints: str
) -> None:
    """Hold lock NAME while COMMAND runs (put `--` before the command).

    \b
    senate lock nightly-backup --ttl 15 -- ./backup.sh --full
    """
    if hold == bool(command):
        raise UsageError("give either a COMMAND (after --) or --hold")
    client = make_client(endpoints)
    try:
        try:
            grant = client.lock_acquire(name, ttl=ttl, wait=wait)
        except LockTimeout:
            raise SenateError(f"lock {name!r} not acquired within {wait:g} s") from None
        keeper = client.keep_alive(grant.lease, ttl)
        try:
            click.echo(f"fencing_token={grant.fencing_token}")
            sys.stdout.flush()  # before the command writes to the same stdout
            code = _hold() if hold else _run(command, grant)
        finally:
            keeper.stop()
            _release(client, name, grant, keeper)
    finally:
        client.close()
    if code:
        raise SystemExit(code)


def _run(command: tuple[str, ...], grant: LockGrant) -> int:
    env = {**os.environ, TOKEN_ENV: str(grant.fencing_token), LEASE_ENV: str(grant.lease)}
    try:
        proc = subprocess.Popen(command, env=env)
    except OSError as exc:
        raise SenateError(f"cannot run {command[0]!r}: {exc.strerror or exc}") from None
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signum))
    try:
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:
                continue  # the command got the Ctrl-C too; wait for it to finish
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 128 - code if code < 0 else code


def _hold() -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _release(client: Client, name: str, grant: LockGrant, keeper: KeepAlive) -> None:
    if isinstance(keeper.error, NotFound):
        click.echo(f"senate: warning: the lease of lock {name!r} expired while held", err=True)
        return
    with contextlib.suppress(NotFound):  # gone with its lease: the lock is free either way
        client.lock_release(name, grant.lease)


__all__ = ["lock"]
