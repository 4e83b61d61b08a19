"""INFO's replication section tells the truth about a cut link: while two replicas
are partitioned, the writer's lag_ops for its peer counts the writes the peer has
not acknowledged and the peer drops out of peers_in_sync_contact; after the heal
both come back (lag 0, every peer in contact)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.activeactive.harness import partition, running

WITHIN = 10.0


def _wait(what: str, check: Any) -> Any:
    deadline = time.monotonic() + WITHIN
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_lag_and_contact_during_a_partition_and_after_the_heal(tmp_path: Path) -> None:
    with running(tmp_path, 2) as replicas:
        n1, n2 = replicas
        c1, c2 = n1.client(), n2.client()
        _wait("both replicas in contact", lambda: c1.info("replication")["peers_in_sync_contact"])
        partition(replicas, ["n2"])
        for i in range(25):
            c1.incr("hits")
            c1.sadd("seen", f"m{i}")
        info = _wait(
            "n2 to drop out of n1's contact",
            lambda: (i := c1.info("replication"))["peers_in_sync_contact"] == 0 and i,
        )
        assert info["peers"] == 1
        assert info["peer0"]["id"] == "n2" and info["peer0"]["lag_ops"] == 50, info
        assert c2.get("hits") is None
        partition(replicas, [])
        _wait(
            "lag 0 and contact after the heal",
            lambda: (
                (i := c1.info("replication"))["peer0"]["lag_ops"] == 0
                and i["peers_in_sync_contact"] == 1
            ),
        )
        assert c2.get("hits") == b"25" and c2.scard("seen") == 25
