"""Fixtures: 3-node clusters of real `senate node` processes in temp dirs.

`cluster` is fresh per test (for tests that kill or pause nodes); `shared_cluster`
is one per module (for tests that only talk to it). Both always SIGKILL every
node on teardown and print the nodes' logs when a test failed.

Engines: `cluster` runs the engine named by the `protocol` fixture, "raft" unless a
test module parametrizes it. The fault tests (kill -9, partitions, leases across a
failover, membership, linearizable histories, a lossy network, a power cut:
test_failover, test_partition, test_leases, test_linearizable_history,
test_membership, test_lossy_network, test_power_loss) run on every engine with
ENGINE_PARAMS (senate_harness.py); the pure-API tests (test_http_api: the API
layer is the same whatever the engine) and the CLI and RESP tests run on Raft
only, except `senate up`, which runs once per engine (test_cli_cluster).
A cluster checks at start that every node reports the protocol it was given.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from senate_harness import Cluster

# Short write timeout so "outcome unknown" and "no quorum" answers come quickly;
# a small snapshot interval so every test also crosses snapshots and compaction.
NODE_ARGS = ("--write-timeout", "2", "--snapshot-every", "25", "--enable-fault-admin")


def _started(root: Path, protocol: str = "raft") -> Cluster:
    cluster = Cluster(root, 3, NODE_ARGS, protocol=protocol)
    try:
        cluster.start()
        cluster.wait_leader()
        for nid in cluster.nodes:
            st = cluster.status(nid)
            assert st is not None and st["protocol"] == protocol, (nid, st)
    except BaseException:
        print(cluster.logs())
        cluster.close()
        raise
    return cluster


@pytest.fixture
def protocol() -> str:
    """The engine `cluster` runs; modules override it with ENGINE_PARAMS."""
    return "raft"


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest, protocol: str) -> Iterator[Cluster]:
    c = _started(tmp_path, protocol)
    try:
        yield c
    finally:
        c.close()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(c.logs())


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = _started(tmp_path_factory.mktemp("shared"))
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
