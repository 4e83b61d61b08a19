"""Where a Senate node's time goes: category shares of py-spy's raw stacks.

Input: `py-spy record -f raw --threads [--idle] [--native]` output, one line per
distinct stack ("thread (tid): Name;frame;frame;... count"). Each sample is put in
the category of its leaf-most frame that matches one; native frames (GC, socket
syscalls, fdatasync, epoll) come first, so with --native they are counted as such
rather than as the Python code that triggered them. Without --native, time inside
uvloop's C loop and inside syscalls shows up under the Python frame that called
in (e.g. a socket write under aiohttp's writer).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

# Leaf-most matching frame wins; native frames (py-spy --native) first, so GC and
# syscalls are counted as such rather than as the Python code that triggered them.
PROFILE_CATEGORIES: list[tuple[str, str]] = [
    ("gc", r"gc_collect"),
    ("syscalls (socket I/O)", r"^(writev|write|read|recv|send|sendmsg|recvmsg|readv) \(libc"),
    ("fsync", r"fdatasync|os\.fsync|WAL\.sync"),
    ("idle (epoll wait)", r"epoll_pwait|epoll_wait|select \(selectors"),
    ("idle (WAL thread waiting for work)", r"^_worker \(concurrent/futures/thread\.py:81\)"),
    ("uvloop run loop (idle, or C-level I/O)", r"^Runner\.run \(asyncio/runners\.py"),
    ("HTTP (aiohttp)", r"aiohttp/|_multidict|multidict/|yarl/"),
    ("API handlers", r"senate/api/"),
    ("Raft core", r"senate/raft/"),
    ("msgpack + framing", r"senate/wire/|msgpack|_cmsgpack"),
    ("peer transport", r"senate/runtime/transport\.py"),
    ("KV apply", r"senate/kv/"),
    ("storage (WAL encode)", r"senate/storage/"),
    ("node (propose/forward/read)", r"senate/runtime/(node|forward|lanes)\.py"),
    ("driver (Ready loop)", r"senate/runtime/driver\.py"),
    ("asyncio machinery", r"asyncio/|concurrent/futures"),
]


def summarize_profile(path: Path) -> str:
    """Share of samples per category and thread in a py-spy `-f raw --threads` file."""
    pats = [(name, re.compile(pat)) for name, pat in PROFILE_CATEGORIES]
    per: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        thread = frames[0].split(": ")[-1]
        cat = "other"
        for frame in reversed(frames[1:]):
            hit = next((name for name, pat in pats if pat.search(frame)), None)
            if hit is not None:
                cat = hit
                break
        per[thread][cat] += int(count)
    out = [f"{path.name}:"]
    for thread, cats in per.items():
        total = sum(cats.values())
        out.append(f"  thread {thread} ({total} samples)")
        out += [f"    {100 * n / total:5.1f}%  {name}" for name, n in cats.most_common()]
    return "\n".join(out)
