"""Start a real 3-node cluster with the integration harness; shared by
tests/client (its conftest) and the `senate kv|lock|members` tests in tests/cli.

Importing this module puts tests/integration on sys.path for `senate_harness`.
"""

from __future__ import annotations

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
