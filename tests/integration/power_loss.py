"""Simulated power loss for real node processes: what was never fsynced is gone.

`kill -9` leaves the kernel's page cache intact, so a node that acknowledged a write
before its fsync would pass every kill -9 test. This module closes that gap:

- `install(log)` runs inside the node process (see `launcher()`), before Senate is
  imported. It wraps `os.fsync` and `os.fdatasync`: after a successful call it
  appends `dev ino size` of the synced file to `log` (one small O_APPEND write per
  sync; the log is only read after the node is dead, so the page cache is enough).
- `cut_power(data_dir, logs)` runs after the nodes were SIGKILLed: every regular
  file under `data_dir` is truncated to the size it had at its last fsync, and a
  file never fsynced is truncated to nothing. That is the disk a power cut leaves
  when writes are append-only (the WAL) or made by write-fsync-rename (hard state,
  snapshots, members.json): the model this system's storage is written for.

`lie_about_wal=True` makes fsync/fdatasync of files under a `wal` directory do
nothing and record nothing: a node whose WAL never reaches the disk. The control
test runs it to show that `cut_power` then really loses acknowledged writes.
(A deleted file's inode may be reused by a new file; new WAL segments and
write-fsync-rename files are fsynced at birth, which resets their entry.)
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

_HERE = str(Path(__file__).parent)


def launcher(log: Path, lie_about_wal: bool = False) -> str:
    """The `python -c` program that installs the hook, then runs the senate CLI."""
    return (
        f"import sys; sys.path.insert(0, {_HERE!r}); import power_loss; "
        f"power_loss.install({str(log)!r}, {lie_about_wal!r}); "
        "from senate.cli.main import main; main()"
    )


def install(log_path: str, lie_about_wal: bool = False) -> None:
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def wrap(real: Callable[[int], None]) -> Callable[[int], None]:
        def synced(fd: int) -> None:
            if lie_about_wal and _is_wal(fd):
                return
            real(fd)
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode):
                os.write(log_fd, f"{st.st_dev} {st.st_ino} {st.st_size}\n".encode())

        return synced

    os.fsync = wrap(os.fsync)
    os.fdatasync = wrap(os.fdatasync)


def _is_wal(fd: int) -> bool:
    try:
        return "/wal/" in os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False


def synced_sizes(logs: Iterable[Path]) -> dict[tuple[int, int], int]:
    """(dev, inode) -> size at its last fsync, from the hook's logs."""
    sizes: dict[tuple[int, int], int] = {}
    for log in logs:
        if not log.exists():
            continue
        for line in log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:  # a line torn by the kill is simply not a sync
                dev, ino, size = (int(p) for p in parts)
                sizes[(dev, ino)] = size
    return sizes


def cut_power(data_dir: Path, logs: Iterable[Path]) -> int:
    """Truncate every file under `data_dir` to its last synced size; bytes dropped."""
    sizes = synced_sizes(logs)
    dropped = 0
    for path in sorted(data_dir.rglob("*")):
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode):
            continue
        keep = min(sizes.get((st.st_dev, st.st_ino), 0), st.st_size)
        if keep < st.st_size:
            dropped += st.st_size - keep
            os.truncate(path, keep)
    return dropped
