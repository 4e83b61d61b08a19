"""Fixtures for the client tests: real 3-node clusters from the integration harness.

The clusters are the integration tests' own (tests/integration/senate_harness.py,
same node flags as tests/integration/conftest.py): `cluster` is fresh per test,
for tests that kill nodes; `shared_cluster` is one per module. Teardown always
SIGKILLs every node; a failed test prints the nodes' logs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
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


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    c = started_cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(c.logs())


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = started_cluster(tmp_path_factory.mktemp("client-shared"))
    try:
        yield c
    finally:
        c.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if call.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
