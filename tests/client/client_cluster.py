"""Start a real 3-node cluster with the integration harness; shared by
tests/client (its conftest) and the `senate kv|lock|members` tests in tests/cli.

Importing this module puts tests/integration on sys.path for `senate_harness`.
`session_cluster` is one cluster for the whole pytest process (every module that
only talks to a cluster shares it: each cluster costs seconds to start); tests
that kill nodes start their own with `started_cluster`.
"""

from __future__ import annotations

import atexit
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "integration"))

from senate_harness import Cluster

# As tests/integration/conftest.py: a short write timeout so 504/503 answers come
# quickly, and frequent snapshots so the tests also cross compaction.
NODE_ARGS = ("--write-timeout", "2", "--snapshot-every", "25")


def started_cluster(root: Path) -> Cluster:
    cluster = Cluster(root, 3, NODE_ARGS)
    try:
        cluster.start()
        cluster.wait_leader()
    except BaseException:
        cluster.close()
        raise
    return cluster


def endpoints(cluster: Cluster) -> list[str]:
    return [node.url for node in cluster.nodes.values()]


_SESSION: list[Cluster] = []


def session_cluster(root: Path) -> Cluster:
    """The process-wide shared cluster, started under `root` on first use and
    SIGKILLed when the process exits."""
    if not _SESSION:
        root.mkdir(parents=True, exist_ok=True)
        cluster = started_cluster(root)
        atexit.register(cluster.close)
        _SESSION.append(cluster)
    cluster = _SESSION[0]
    cluster.wait_leader()  # still healthy for the next module
    return cluster
