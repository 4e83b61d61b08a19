"""Fixtures for the client tests: real 3-node clusters from the integration harness.

The clusters are the integration tests' own (tests/integration/senate_harness.py,
started by client_cluster.py): `cluster` is fresh per test,
for tests that kill nodes; `shared_cluster` is one for the whole run (shared with
the tests/cli tests of `senate kv|lock`), for tests that only talk to it. Teardown always
SIGKILLs every node; a failed test prints the nodes' logs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from client_cluster import endpoints, session_cluster, started_cluster
from senate_harness import Cluster

__all__ = ["endpoints", "started_cluster"]


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


@pytest.fixture
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    return session_cluster(tmp_path_factory.getbasetemp() / "senate-shared")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if call.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
