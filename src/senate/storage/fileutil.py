"""Small durable-file helpers shared by the WAL, hard state and snapshot files.

Rules this file keeps:
- `write_atomic` is the only way a whole file is replaced: write a temp file in
  the same directory, fsync it, rename it over the target, fsync the directory.
  After it returns the new contents are durable and a crash at any point leaves
  either the old file or the new one, never a mix.
- `fsync_dir` makes creations, renames and deletions in a directory durable.
"""

from __future__ import annotations

import os
from pathlib import Path

TMP_SUFFIX = ".tmp"


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: fsync temp file, rename, fsync directory."""
    tmp = path.with_name(path.name + TMP_SUFFIX)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def remove_temp_files(directory: Path) -> None:
    """Drop temp files left by a crash in the middle of `write_atomic`."""
    for path in directory.glob("*" + TMP_SUFFIX):
        path.unlink(missing_ok=True)


def remove_durably(paths: list[Path], *, in_order: bool = False) -> None:
    """Delete files and make the deletion durable.

    With `in_order`, the directory is fsynced after each file, so a crash leaves
    a prefix of `paths` deleted (the WAL relies on this to never show a gap).
    Otherwise one directory fsync at the end.
    """
    if not paths:
        return
    for path in paths:
        path.unlink(missing_ok=True)
        if in_order:
            fsync_dir(path.parent)
    if not in_order:
        fsync_dir(paths[0].parent)
