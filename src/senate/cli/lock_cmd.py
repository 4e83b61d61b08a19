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
- Ctrl-C reaches the command (same process group; a SIGINT sent to this process
  alone is passed on after a second); SIGTERM is passed on to it. Either way the
  lock is released after the command exits.
- Exit 1 with one line if the lock is not acquired in time or the command cannot
  be started; exit 2 on bad usage (neither or both of COMMAND and --hold).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

import click

from senate.cli.kv_cmd import endpoints_option, make_client
from senate.client import Client, KeepAlive, LockGrant, LockTimeout, NotFound
from senate.errors import SenateError, UsageError

TOKEN_ENV = "SENATE_FENCING_TOKEN"
LEASE_ENV = "SENATE_LOCK_LEASE"
INTERRUPT_GRACE = 1.0  # seconds
POLL = 0.1  # seconds


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
            with _Signals() as signals:
                click.echo(f"fencing_token={grant.fencing_token}")
                sys.stdout.flush()  # before the command writes to the same stdout
                code = _hold(signals) if hold else _run(command, grant, signals)
        finally:
            keeper.stop()
            _release(client, name, grant, keeper)
    finally:
        client.close()
    if code:
        raise SystemExit(code)


class _Signals:
    """While the lock is held, SIGINT and SIGTERM are recorded, not raised: the
    lock must be released whatever happens, after the command has exited."""

    def __init__(self) -> None:
        self.received: list[tuple[int, float]] = []  # (signal, monotonic time)
        self._previous: dict[int, Any] = {}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received.append((signum, time.monotonic()))

    def __enter__(self) -> _Signals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def _run(command: tuple[str, ...], grant: LockGrant, signals: _Signals) -> int:
    env = {**os.environ, TOKEN_ENV: str(grant.fencing_token), LEASE_ENV: str(grant.lease)}
    try:
        proc = subprocess.Popen(command, env=env)
    except OSError as exc:
        raise SenateError(f"cannot run {command[0]!r}: {exc.strerror or exc}") from None
    passed = 0  # signals handled so far
    while True:
        try:
            code = proc.wait(timeout=POLL)
            break
        except subprocess.TimeoutExpired:
            pass
        while passed < len(signals.received):
            signum, at = signals.received[passed]
            # A terminal's Ctrl-C reaches the command too (same process group); a
            # SIGINT sent to this process alone does not: pass it on if the command
            # still runs a moment later. SIGTERM is passed on at once.
            if signum == signal.SIGINT and time.monotonic() - at < INTERRUPT_GRACE:
                break
            proc.send_signal(signum)
            passed += 1
    return 128 - code if code < 0 else code


def _hold(signals: _Signals) -> int:
    while not signals.received:
        time.sleep(POLL)
    return 0


def _release(client: Client, name: str, grant: LockGrant, keeper: KeepAlive) -> None:
    if isinstance(keeper.error, NotFound):
        click.echo(f"senate: warning: the lease of lock {name!r} expired while held", err=True)
        return
    with contextlib.suppress(NotFound):  # gone with its lease: the lock is free either way
        client.lock_release(name, grant.lease)


__all__ = ["lock"]
