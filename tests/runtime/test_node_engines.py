"""runtime/engines.py and the node on each engine: Raft, Multi-Paxos and ZAB in-process.

One single-node cluster per protocol on a real FileLogStore: writes, reads, KV
snapshots (through the engine's snapshot_meta) and recovery from the data dir; the
data dir remembers its protocol and refuses another; a peer speaking another
engine's protocol is ignored, not stepped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path

import pytest

from senate.consensus.types import Role
from senate.errors import UsageError
from senate.runtime.config import PROTOCOLS, NodeConfig
from senate.runtime.engines import (
    ENGINES,
    PROTOCOL_FILE,
    check_protocol,
    engine_kind,
    read_protocol,
)
from senate.runtime.node import Node
from senate.sim.engines import PROTOCOLS as SIM_PROTOCOLS


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _config(data: Path, protocol: str) -> NodeConfig:
    peer = ("127.0.0.1", _port())
    return NodeConfig(
        "n1",
        data,
        peer,
        ("127.0.0.1", _port()),
        {"n1": peer},
        tick_ms=10,
        snapshot_every=7,
        protocol=protocol,
    )


async def _lead(node: Node) -> None:
    for _ in range(500):
        if node.engine.status().role == Role.LEADER:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never became leader")


def test_one_engine_per_protocol_everywhere() -> None:
    assert tuple(ENGINES) == PROTOCOLS
    assert set(PROTOCOLS) == set(SIM_PROTOCOLS)
    wire_kinds = {engine_kind(p).wire_kind for p in PROTOCOLS}
    assert len(wire_kinds) == len(PROTOCOLS)
    with pytest.raises(UsageError, match="unknown protocol"):
        engine_kind("viewstamped")
    with pytest.raises(UsageError, match="--protocol"):
        _config(Path("unused"), "pbft")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_node_runs_each_engine_and_recovers(tmp_path: Path, protocol: str) -> None:
    config = _config(tmp_path / "d", protocol)

    async def first() -> None:
        node = Node(config)
        await node.start()
        try:
            await _lead(node)
            for i in range(20):
                result = await node.put(f"k/{i:02d}", b"v%d" % i)
                assert result.succeeded and result.revision == i + 1
            assert (await node.delete("k/05")).deleted
            kv = await node.get("k/03")
            assert kv is not None and kv.value == b"v3"
            st = node.status()
            assert st["protocol"] == protocol and st["role"] == "leader"
            assert st["snapshot_index"] >= 14 and st["stats"]["snapshots"] >= 2
        finally:
            await node.stop()

    async def second() -> None:
        node = Node(config)
        await node.start()
        try:
            await _lead(node)
            revision, items = await node.range("k/")
            assert revision == 21 and len(items) == 19
            assert (await node.put("k/after", b"x")).revision == 22
        finally:
            await node.stop()

    asyncio.run(first())
    assert read_protocol(config.data_dir) == protocol
    assert (config.data_dir / PROTOCOL_FILE).read_text() == protocol + "\n"
    asyncio.run(second())


def test_a_data_dir_refuses_another_protocol(tmp_path: Path) -> None:
    config = _config(tmp_path / "d", "zab")

    async def run_once() -> None:
        node = Node(config)
        await node.start()
        try:
            await _lead(node)
            await node.put("k", b"v")
        finally:
            await node.stop()

    asyncio.run(run_once())
    for other in ("raft", "multipaxos"):
        with pytest.raises(UsageError, match=f"--protocol {other}: .* holds a zab log"):
            Node(_config(config.data_dir, other))
    assert read_protocol(config.data_dir) == "zab"
    # A data dir a node ran in before the protocol was recorded holds a Raft log.
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "members.json").write_text(json.dumps({"base": ["n1"], "addrs": {}}))
    assert check_protocol(legacy, "raft") == "raft"
    with pytest.raises(UsageError, match="holds a raft log"):
        check_protocol(legacy, "multipaxos")
    assert check_protocol(tmp_path / "fresh", "zab") is None
    (legacy / PROTOCOL_FILE).write_text("byzantine\n")
    with pytest.raises(Exception, match="unknown protocol"):
        read_protocol(legacy)


def test_messages_of_another_engine_are_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    node = Node(_config(tmp_path / "d", "raft"))
    from senate.zab.messages import MessageType, ZabMessage

    foreign = ZabMessage(MessageType.PING, "n2", "n1", 1)
    before = node.engine.status()
    with caplog.at_level(logging.WARNING, logger="senate.node"):
        node._on_message(foreign)
        node._on_message(foreign)
    assert node.engine.status() == before
    warned = [r for r in caplog.records if "sends zab messages" in r.getMessage()]
    assert len(warned) == 1
    node.store.close()
