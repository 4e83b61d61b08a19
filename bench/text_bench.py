"""Replay an editing trace into senate's Text and into pycrdt (Yjs/yrs), side by side.

    python bench/text_bench.py                      # automerge-paper, both contestants
    python bench/text_bench.py --trace seph-blog1 --repeat 3

Each contestant runs in its own fresh subprocess (so peak memory is its own): the
child loads the trace's patches from a compact pickle written by the parent, notes
its resident set size (and resets the kernel's peak mark), replays every patch as one
local edit (pycrdt: one transaction per patch, as an editor would), then reports the
replay time, the growth of peak RSS over the pre-replay RSS, the encoded document
size, and whether the text equals endContent. Senate runs once more under
tracemalloc to report the peak of the Python heap alone. The ratio column is
pycrdt / senate, measured in the same run.

Floors (issue 4): senate at least 2x faster than pycrdt, encoded document
<= 250 KB, peak memory <= 200 MB. A wrong replay exits with status 1; a missed floor
is printed (benchmarks report, tests never assert on speed).

Data: ../shared/data/editing-traces beside the repository, or $SENATE_DATA_DIR.
Traces: josephg/editing-traces by Joseph Gentle, CC BY 4.0.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
Patch = tuple[int, int, str]


def data_dir() -> Path:
    env = os.environ.get("SENATE_DATA_DIR")
    return Path(env) if env else ROOT / ".." / "shared" / "data"


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak_rss() -> None:
    """Restart the kernel's peak-RSS mark (VmHWM) so loading the trace does not count."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_bytes() -> int:
    # VmHWM, not getrusage: ru_maxrss survives exec, so a child would inherit the
    # parent's peak (the parent holds the parsed JSON trace).
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def replay_senate(patches: list[Patch]) -> tuple[str, bytes, Any]:
    from senate.crdt.text import Text

    doc = Text("author")
    for pos, n_del, ins in patches:
        if n_del:
            doc.delete(pos, n_del)
        if ins:
            doc.insert(pos, ins)
    return str(doc), doc.encode(), doc


def replay_pycrdt(patches: list[Patch]) -> tuple[str, bytes, Any]:
    from pycrdt import Doc, Text

    doc = Doc()
    text = doc.get("text", type=Text)
    for pos, n_del, ins in patches:
        with doc.transaction():
            if n_del:
                del text[pos : pos + n_del]
            if ins:
                text.insert(pos, ins)
    return str(text), doc.get_update(), doc


def child(contestant: str, ops_file: str) -> None:
    with open(ops_file, "rb") as f:
        patches, end = pickle.load(f)
    replay = replay_senate if contestant.startswith("senate") else replay_pycrdt
    gc.collect()
    out: dict[str, Any] = {"contestant": contestant}
    if contestant == "senate-tracemalloc":
        tracemalloc.start()
        text, _, keep = replay(patches)
        out["heap_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        reset_peak_rss()
        rss0 = rss_bytes()
        t0 = time.perf_counter()
        text, encoded, keep = replay(patches)
        out["seconds"] = time.perf_counter() - t0
        peak = peak_rss_bytes()
        out["rss_growth"] = max(0, peak - rss0)
        out["rss_peak"] = peak
        out["encoded"] = len(encoded)
        if contestant == "senate":
            from senate.crdt.text import Text

            t0 = time.perf_counter()
            back = Text.decode(encoded)
            out["decode_seconds"] = time.perf_counter() - t0
            out["runs"] = keep.run_count()
            assert str(back) == end
    del keep
    out["ok"] = text == end
    print(json.dumps(out))


def run_child(contestant: str, ops_file: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get(
        "PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, __file__, "--child", contestant, ops_file],
        capture_output=True, text=True, env=env, check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"{contestant} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trace", default="automerge-paper", help="a sequential trace name")
    ap.add_argument("--repeat", type=int, default=1, help="runs per contestant (best time)")
    ap.add_argument("--child", nargs=2, metavar=("CONTESTANT", "OPS_FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return

    path = data_dir() / "editing-traces" / "sequential" / f"{args.trace}.json.gz"
    if not path.is_file():
        sys.exit(f"trace not found: {path} (set SENATE_DATA_DIR)")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        trace = json.load(f)
    patches: list[Patch] = [tuple(p) for t in trace["txns"] for p in t["patches"]]  # type: ignore[misc]
    if trace.get("startContent"):
        patches.insert(0, (0, 0, trace["startContent"]))
    with tempfile.NamedTemporaryFile(suffix=".pickle", delete=False) as tmp:
        pickle.dump((patches, trace["endContent"]), tmp)
    try:
        runs: dict[str, list[dict[str, Any]]] = {"senate": [], "pycrdt": []}
        for _ in range(args.repeat):  # alternate, so load on the machine hits both alike
            for contestant in runs:
                runs[contestant].append(run_child(contestant, tmp.name))
        results = {c: min(rs, key=lambda r: float(r["seconds"])) for c, rs in runs.items()}
        heap = run_child("senate-tracemalloc", tmp.name)
    finally:
        os.unlink(tmp.name)

    s, p = results["senate"], results["pycrdt"]
    mb = 1024 * 1024
    print(f"trace {args.trace}: {len(patches):,} patches, {len(trace['endContent']):,} chars, "
          f"python {sys.version.split()[0]}, best of {args.repeat}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    print(f"{'':28}{'senate Text':>14}{'pycrdt':>14}{'pycrdt/senate':>15}")
    rows = [
        ("replay time (s)", s["seconds"], p["seconds"], "{:.2f}"),
        ("peak RSS over start (MB)", s["rss_growth"] / mb, p["rss_growth"] / mb, "{:.1f}"),
        ("peak RSS, whole process (MB)", s["rss_peak"] / mb, p["rss_peak"] / mb, "{:.1f}"),
        ("encoded document (KB)", s["encoded"] / 1000, p["encoded"] / 1000, "{:.1f}"),
    ]
    for label, a, b, fmt in rows:
        ratio = f"{b / a:.2f}x" if a else "-"
        print(f"{label:28}{fmt.format(a):>14}{fmt.format(b):>14}{ratio:>15}")
    print(f"{'python heap peak (MB)':28}{heap['heap_peak'] / mb:>14.1f}{'n/a':>14}")
    print(f"{'decode document (s)':28}{s['decode_seconds']:>14.2f}")
    print(f"{'runs in memory':28}{s['runs']:>14,}")
    ok = all(r["ok"] for r in (s, p, heap))
    print(f"replays equal endContent: {'yes' if ok else 'NO'}")
    floors = [
        ("at least 2x faster than pycrdt", p["seconds"] >= 2 * s["seconds"]),
        ("encoded document <= 250 KB", s["encoded"] <= 250_000),
        ("peak memory <= 200 MB", s["rss_peak"] <= 200 * mb),
    ]
    for label, held in floors:
        print(f"floor: {label}: {'held' if held else 'MISSED'}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
