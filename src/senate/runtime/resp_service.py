"""The active-active RESP store inside a `senate node` process.

Rules this file keeps:
- the CRDT messages are registered on the node's codec whether or not this node
  serves RESP, so a peer's replication traffic never looks malformed here (a
  malformed frame would close the link the Raft traffic shares);
- with `--resp` the store lives in DATA_DIR/activeactive (its own WAL and
  snapshots, apart from the Raft log) and replicates to every other member the
  node knew at start; without it, every call here is a no-op;
- the HLC of the store reads the wall clock (milliseconds since the epoch): that
  is what hybrid logical clocks are for, and the CRDT store is the only place in
  a node that does.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable

from senate.activeactive.messages import KIND, CrdtMessage, register_crdt_messages
from senate.activeactive.service import ActiveActiveService
from senate.consensus.types import Message
from senate.runtime.config import Addr, NodeConfig, format_addr
from senate.wire.codec import Codec

__all__ = ["CrdtMessage", "RespService"]

logger = logging.getLogger("senate.node")


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class RespService:
    """The node's RESP endpoint and active-active keyspace, or nothing without --resp."""

    KIND = KIND

    def __init__(self, service: ActiveActiveService | None, addr: Addr | None) -> None:
        self.service = service
        self.addr = addr
        self.bound: tuple[str, int] | None = None

    @classmethod
    def create(
        cls,
        config: NodeConfig,
        codec: Codec,
        peers: Iterable[str],
        rng: random.Random,
        send: Callable[[Message], None],
    ) -> RespService:
        register_crdt_messages(codec)
        if config.resp_addr is None:
            return cls(None, None)
        service = ActiveActiveService(
            config.node_id,
            config.data_dir / "activeactive",
            list(peers),
            send=send,
            rng=random.Random(rng.getrandbits(64)),
            clock_ms=_wall_clock_ms,
        )
        return cls(service, config.resp_addr)

    async def start(self) -> None:
        if self.service is None or self.addr is None:
            return
        await self.service.start()  # recovery: snapshot + WAL replay
        self.bound = await self.service.serve_resp(*self.addr)
        logger.info("node %s: serving RESP on %s", self.service.node_id, format_addr(self.bound))

    async def close(self) -> None:
        if self.service is not None:
            await self.service.close()

    def on_message(self, msg: CrdtMessage) -> None:
        if self.service is not None:
            self.service.on_message(msg)
