"""runtime/node.py in-process, three nodes: writes sent to a follower are forwarded in
batches, the leader sends their results back (ForwardResult, forward.py) and forgets
each origin once it did; the follower answers with those results."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from senate.consensus.types import Role
from senate.kv import Result
from senate.runtime.config import NodeConfig
from senate.runtime.driver import WriteKey
from senate.runtime.node import ClientRef, Node


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _leader(nodes: list[Node]) -> Node:
    for _ in range(1000):
        for node in nodes:
            st = node.engine.status()
            if st.role == Role.LEADER and all(n.engine.status().leader == node.id for n in nodes):
                return node
        await asyncio.sleep(0.01)
    raise AssertionError("no leader that every node knows")


def test_a_follower_answers_forwarded_writes_from_the_leaders_results(tmp_path: Path) -> None:
    ids = ["n1", "n2", "n3"]
    peers = {i: ("127.0.0.1", _port()) for i in ids}
    configs = [
        NodeConfig(i, tmp_path / i, peers[i], ("127.0.0.1", _port()), peers, tick_ms=10)
        for i in ids
    ]

    async def run() -> None:
        nodes = [Node(c) for c in configs]
        for node in nodes:
            await node.start()
        try:
            leader = await _leader(nodes)
            follower = next(n for n in nodes if n is not leader)
            carried: set[WriteKey] = set()
            send = leader.driver.on_remote
            assert send is not None

            def spy(origin: str, results: list[tuple[str, int, Result]]) -> None:
                assert origin == follower.id
                carried.update((c, s) for c, s, _ in results)
                send(origin, results)

            leader.driver.on_remote = spy
            # Sent together: one loop turn's forwards leave in one Forward frame.
            results = await asyncio.gather(
                *(
                    follower.put(f"k/{i}", b"v", client=ClientRef("c", 1) if i == 0 else None)
                    for i in range(10)
                )
            )
            assert all(r.succeeded for r in results)
            assert sorted(r.revision for r in results) == list(range(1, 11))
            assert ("c", 1) in carried and len(carried) == 10
            assert not leader.driver.origins  # every result was sent
            # A repeat of a session's seq answers with the first result, via the leader too.
            again = await follower.put("k/0", b"v", client=ClientRef("c", 1))
            assert again == next(r for r in results if r.revision == again.revision)
        finally:
            for node in nodes:
                await node.stop()

    asyncio.run(run())
