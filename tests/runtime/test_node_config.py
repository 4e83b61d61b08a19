"""Flag parsing of `senate node` (runtime/config.py) and server-assigned lanes."""

from __future__ import annotations

from pathlib import Path

import pytest

from senate.errors import UsageError
from senate.runtime.config import NodeConfig, format_addr, parse_addr, parse_cluster
from senate.runtime.lanes import LanePool


def test_parse_addr() -> None:
    assert parse_addr("127.0.0.1:7101", "--peer") == ("127.0.0.1", 7101)
    assert parse_addr("[::1]:80", "--peer") == ("::1", 80)
    assert format_addr(("::1", 80)) == "[::1]:80"
    for bad in ("7101", "127.0.0.1:", ":80", "host:http", "127.0.0.1:70000"):
        with pytest.raises(UsageError, match="--peer"):
            parse_addr(bad, "--peer")


def test_parse_cluster() -> None:
    members = parse_cluster("n1=127.0.0.1:1, n2=127.0.0.1:2,")
    assert members == {"n1": ("127.0.0.1", 1), "n2": ("127.0.0.1", 2)}
    for bad, why in (
        ("", "no members"),
        ("n1", "id=host:port"),
        ("n1=127.0.0.1:1,n1=127.0.0.1:2", "twice"),
        ("n1=127.0.0.1:1,n2=127.0.0.1:1", "share"),
        ("n 1=127.0.0.1:1", "node ids"),
    ):
        with pytest.raises(UsageError, match=why):
            parse_cluster(bad)


def test_node_config_checks_itself(tmp_path: Path) -> None:
    cluster = parse_cluster("n1=127.0.0.1:1,n2=127.0.0.1:2")
    ok = NodeConfig("n1", tmp_path, ("127.0.0.1", 1), ("127.0.0.1", 3), cluster)
    assert ok.peers == {"n2": ("127.0.0.1", 2)}
    with pytest.raises(UsageError, match="does not list"):
        NodeConfig("n3", tmp_path, ("127.0.0.1", 1), ("127.0.0.1", 3), cluster)
    with pytest.raises(UsageError, match="--peer is"):
        NodeConfig("n1", tmp_path, ("127.0.0.1", 9), ("127.0.0.1", 3), cluster)
    with pytest.raises(UsageError):
        NodeConfig("n1", tmp_path, ("127.0.0.1", 1), ("127.0.0.1", 3), cluster, tick_ms=0)


def test_lanes_are_exclusive_and_reused() -> None:
    pool = LanePool("n1")
    a, b = pool.borrow(), pool.borrow()
    assert a.client_id != b.client_id and a.client_id.startswith("n1.")
    assert (a.next(), a.next()) == (1, 2)
    pool.give_back(a)
    c = pool.borrow()
    assert c is a and c.next() == 3  # a reused lane keeps counting up
    assert pool.size == 2
    assert LanePool("n1").nonce != pool.nonce  # a restarted node never reuses a session
