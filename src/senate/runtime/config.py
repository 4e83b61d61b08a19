"""The settings of one node process, and the parsing of the flags that give them.

Rules this file keeps:
- Every bad flag is a UsageError with a one-line reason (the CLI exits 2 with it);
  nothing here touches the network or the data directory.
- Addresses are host:port with an IPv4/IPv6 literal or a name; ports 0..65535
  (0 only where "any free port" makes sense, which the caller decides).
- `--cluster` lists every initial member by peer address, this node included, and
  this node's entry must name the same address as `--peer`. With `--join` it
  lists the current members plus this node, which is not a voter until added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from senate.errors import UsageError

Addr = tuple[str, int]

_NODE_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

# Timing: a tick every 50 ms, an election timeout of 10..20 ticks (0.5..1 s), a
# heartbeat every tick. Loopback round trips are ~0.1 ms, so this is generous
# and keeps failover around a second.
DEFAULT_TICK_MS = 50
DEFAULT_ELECTION_TICKS = 10
DEFAULT_SNAPSHOT_EVERY = 10_000
DEFAULT_WRITE_TIMEOUT = 5.0
# The consensus engines a node can run (runtime/engines.py builds them).
PROTOCOLS = ("raft", "multipaxos", "zab")
DEFAULT_PROTOCOL = "raft"


def parse_addr(text: str, what: str) -> Addr:
    """'host:port' (or '[v6]:port') -> (host, port); UsageError naming `what`."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise UsageError(f"{what}: expected host:port, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise UsageError(f"{what}: port {port} is out of range 0..65535")
    return host, port


def format_addr(addr: Addr) -> str:
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_node_id(node_id: str, what: str = "--id") -> str:
    if not _NODE_ID.match(node_id):
        raise UsageError(f"{what}: node ids are 1..64 of A-Z a-z 0-9 _ . -, got {node_id!r}")
    return node_id


def parse_cluster(text: str) -> dict[str, Addr]:
    """'n1=127.0.0.1:7101,n2=...' -> {id: addr}, in the order given."""
    members: dict[str, Addr] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        raw_id, sep, addr = item.partition("=")
        if not sep:
            raise UsageError(f"--cluster: expected id=host:port, got {item!r}")
        node_id = check_node_id(raw_id.strip(), "--cluster")
        if node_id in members:
            raise UsageError(f"--cluster: node {node_id!r} is listed twice")
        members[node_id] = parse_addr(addr, f"--cluster {node_id}")
    if not members:
        raise UsageError("--cluster: no members given")
    seen: dict[Addr, str] = {}
    for member, where in members.items():
        if where in seen:
            raise UsageError(f"--cluster: {member} and {seen[where]} share {format_addr(where)}")
        seen[where] = member
    return members


@dataclass(slots=True, frozen=True)
class NodeConfig:
    node_id: str
    data_dir: Path
    peer_addr: Addr  # where this node listens for peers
    http_addr: Addr  # where it serves the HTTP/JSON API
    cluster: dict[str, Addr] = field(default_factory=dict)  # initial members, self included
    resp_addr: Addr | None = None  # RESP (active-active CRDT store); None = off
    cluster_id: str = "senate"
    tick_ms: int = DEFAULT_TICK_MS
    election_ticks: int = DEFAULT_ELECTION_TICKS
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY  # applied entries between KV snapshots
    write_timeout: float = DEFAULT_WRITE_TIMEOUT  # after this an unfinished write is a 504
    max_value_bytes: int = 1 << 20
    fault_admin: bool = False  # serve /v1/admin/faults (tests only; off by default)
    join: bool = False  # a new member: a learner until the log makes it a voter
    protocol: str = DEFAULT_PROTOCOL  # the consensus engine (one of PROTOCOLS)

    def __post_init__(self) -> None:
        check_node_id(self.node_id)
        if self.node_id not in self.cluster:
            raise UsageError(f"--cluster does not list this node ({self.node_id})")
        listed = self.cluster[self.node_id]
        if listed != self.peer_addr:
            raise UsageError(
                f"--cluster lists {self.node_id} at {format_addr(listed)} "
                f"but --peer is {format_addr(self.peer_addr)}"
            )
        if self.tick_ms < 1 or self.election_ticks < 2 or self.snapshot_every < 1:
            raise UsageError("tick must be >= 1 ms, election >= 2 ticks, snapshot-every >= 1")
        if self.write_timeout <= 0:
            raise UsageError("write timeout must be positive")
        if self.protocol not in PROTOCOLS:
            known = ", ".join(PROTOCOLS)
            raise UsageError(
                f"--protocol: unknown protocol {self.protocol!r} (choose from {known})"
            )

    @property
    def peers(self) -> dict[str, Addr]:
        """Every member but this node."""
        return {nid: addr for nid, addr in self.cluster.items() if nid != self.node_id}
