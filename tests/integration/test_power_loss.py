"""Acknowledged means durable, on real processes, under a simulated power cut.

kill -9 alone cannot catch a missing fsync (the page cache survives it), so every
node here runs with power_loss's fsync hook; after killing all of them at once,
each data dir is cut back to what was fsynced (power_loss.cut_power) before the
restart. Every write the cluster acknowledged must still be there.

The control runs the same steps with nodes whose WAL fsyncs are lies and shows
that the cut then loses acknowledged writes: the check can fail.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from power_loss import cut_power, launcher
from senate_harness import ENGINE_PARAMS, Cluster, NodeProc, wait_for

NODE_ARGS = ("--write-timeout", "2", "--enable-fault-admin")
WRITERS = 4


@dataclass(slots=True)
class HookedCluster(Cluster):
    lie_about_wal: bool = False

    def sync_log(self, node: NodeProc) -> Path:
        return self.root / f"{node.node_id}.syncs"

    def argv(self, node: NodeProc) -> list[str]:
        argv = Cluster.argv(self, node)
        assert argv[1] == "-c"
        argv[2] = launcher(self.sync_log(node), self.lie_about_wal)
        return argv

    def cut_power(self) -> int:
        """After kill_all: every data dir as the disk holds it; bytes dropped."""
        return sum(cut_power(n.data_dir, [self.sync_log(n)]) for n in self.nodes.values())


def _write_concurrently(c: Cluster, prefix: str, per_writer: int) -> dict[str, bytes]:
    """Writers on every node at once; returns what was acknowledged."""
    acked: dict[str, bytes] = {}
    lock = threading.Lock()
    ids = list(c.nodes)

    def writer(w: int) -> None:
        for i in range(per_writer):
            key, value = f"{prefix}/{w}/{i:03d}", f"v{w}-{i}".encode()
            try:
                resp = c.put(ids[(w + i) % len(ids)], key, value)
            except OSError:
                continue
            if resp.status == 200:
                with lock:
                    acked[key] = value

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return acked


def _started(root: Path, protocol: str, lie_about_wal: bool, *extra: str) -> HookedCluster:
    c = HookedCluster(root, 3, (*NODE_ARGS, *extra), protocol=protocol, lie_about_wal=lie_about_wal)
    c.start()
    c.wait_leader()
    return c


def _missing(c: Cluster, acked: dict[str, bytes]) -> list[str]:
    leader = c.wait_leader(timeout=30)
    return [k for k, v in acked.items() if c.get(leader, k).body != v]


@ENGINE_PARAMS
def test_acknowledged_writes_survive_a_power_cut_of_every_node(
    tmp_path: Path, protocol: str
) -> None:
    # Snapshots every 25 entries: the cut also hits snapshot files and compaction.
    c = _started(tmp_path, protocol, False, "--snapshot-every", "25")
    try:
        acked = _write_concurrently(c, "p", 25)
        assert len(acked) >= 80, f"only {len(acked)} of 100 writes were acknowledged"
        c.kill_all()
        dropped = c.cut_power()
        c.start()
        missing = _missing(c, acked)
        assert not missing, f"lost {len(missing)} acknowledged writes: {missing[:10]}"
        # and every node agrees once it has caught up
        for nid in c.nodes:
            wait_for(
                f"{nid} to serve every acknowledged write",
                lambda nid=nid: all(
                    c.get(nid, k, "?consistency=serializable").body == v for k, v in acked.items()
                ),
                30,
            )
        print(f"power cut dropped {dropped} unsynced bytes; {len(acked)} writes kept")
    except BaseException:
        print(c.logs())
        raise
    finally:
        c.close()


def test_control_a_wal_that_never_syncs_loses_acknowledged_writes(tmp_path: Path) -> None:
    # No snapshots (they are fsynced honestly): the WAL is all there is.
    c = _started(tmp_path, "raft", True, "--snapshot-every", "100000")
    try:
        acked = _write_concurrently(c, "q", 5)
        assert len(acked) >= 15
        c.kill_all()
        assert c.cut_power() > 0
        c.start()
        missing = _missing(c, acked)
        assert missing, "a power cut of nodes whose WAL never synced lost nothing"
        print(f"the lying WAL lost {len(missing)} of {len(acked)} acknowledged writes")
    finally:
        c.close()
