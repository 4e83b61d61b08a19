"""Fault rules for the real transport: drop, delay and partition links between nodes.

The transport asks a FaultRules object about every message:

    on_send(src, dst)     -> Verdict    before enqueueing (drop? deliver after a delay?)
    on_receive(src, dst)  -> bool       before handing a decoded message to the node

Links are directed (src -> dst). A blocked link is enforced on both ends: the
sender drops what it would send on it and the receiver drops what arrives on it.
So one process can cut itself off from others in both directions without the
others' cooperation (no iptables, no root), and several in-process transports
may share one FaultRules without a message being judged twice for loss: drops
and delays are drawn on the send side only.

Every random draw comes from the injected rng, in call order, so a test with a
seeded rng and a fixed message sequence sees the same drops every run.

`configure(spec)` / `describe()` speak a small JSON-able document, for an admin
endpoint (which must stay off unless a flag enables it):

    {"block":   [["n1", "n2"], ...],                     directed links cut
     "default": {"drop": 0.0, "delay_ms": 0, "jitter_ms": 0},
     "links":   [{"src": "n1", "dst": "n3", "drop": 0.2, "delay_ms": 50, ...}]}
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from senate.errors import MalformedInput


@dataclass(slots=True, frozen=True)
class LinkFault:
    """Loss and latency on a link: drop with probability `drop`, else deliver after
    `delay_ms` plus a uniform extra in [0, `jitter_ms`]."""

    drop: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.drop <= 1.0:
            raise ValueError(f"drop probability {self.drop} is not in [0, 1]")
        if not (0 <= self.delay_ms < math.inf and 0 <= self.jitter_ms < math.inf):
            raise ValueError("delay_ms and jitter_ms must be finite and not negative")

    @property
    def is_noop(self) -> bool:
        return self.drop == 0.0 and self.delay_ms == 0.0 and self.jitter_ms == 0.0

    def to_obj(self) -> dict[str, float]:
        return {"drop": self.drop, "delay_ms": self.delay_ms, "jitter_ms": self.jitter_ms}


NO_FAULT: Final = LinkFault()


@dataclass(slots=True, frozen=True)
class Verdict:
    """What to do with one outgoing message."""

    deliver: bool
    delay: float = 0.0  # seconds to hold it before enqueueing


DELIVER: Final = Verdict(True)
DROP: Final = Verdict(False)


@dataclass(slots=True)
class FaultCounters:
    dropped: int = 0  # lost to a drop probability
    blocked_send: int = 0  # not sent: the link is partitioned
    blocked_receive: int = 0  # arrived on a partitioned link and was discarded
    delayed: int = 0


class FaultRules:
    """A mutable set of link faults; see the module docstring."""

    __slots__ = ("_blocked", "_default", "_links", "_rng", "counters")

    def __init__(self, rng: random.Random | None = None) -> None:
        # A fixed seed by default: fault runs should replay unless a test asks otherwise.
        self._rng = rng if rng is not None else random.Random(0)
        self._blocked: set[tuple[str, str]] = set()
        self._default = NO_FAULT
        self._links: dict[tuple[str, str], LinkFault] = {}
        self.counters = FaultCounters()

    # -- partitions ---------------------------------------------------------------

    def block(self, src: str, dst: str) -> None:
        """Cut the directed link src -> dst."""
        self._blocked.add((src, dst))

    def unblock(self, src: str, dst: str) -> None:
        self._blocked.discard((src, dst))

    def partition(
        self, side_a: Iterable[str], side_b: Iterable[str], *, one_way: bool = False
    ) -> None:
        """Cut every link from side_a to side_b, and back unless `one_way`."""
        a, b = list(side_a), list(side_b)
        for x in a:
            for y in b:
                if x != y:
                    self._blocked.add((x, y))
                    if not one_way:
                        self._blocked.add((y, x))

    def isolate(self, node: str, others: Iterable[str]) -> None:
        """Cut `node` off from `others` in both directions."""
        self.partition([node], others)

    def heal(
        self, side_a: Iterable[str] | None = None, side_b: Iterable[str] | None = None
    ) -> None:
        """Restore links between the two sides (both ways), or every link if no sides given."""
        if side_a is None and side_b is None:
            self._blocked.clear()
            return
        a = set(side_a or ())
        b = set(side_b or ())
        self._blocked = {
            (s, d) for s, d in self._blocked if not ((s in a and d in b) or (s in b and d in a))
        }

    def blocked(self, src: str, dst: str) -> bool:
        return (src, dst) in self._blocked

    def blocked_links(self) -> frozenset[tuple[str, str]]:
        return frozenset(self._blocked)

    # -- loss and latency ---------------------------------------------------------

    def set_default(self, fault: LinkFault) -> None:
        """Loss and latency for every link without its own setting."""
        self._default = fault

    def set_link(self, src: str, dst: str, fault: LinkFault | None) -> None:
        """Loss and latency on src -> dst; None goes back to the default."""
        if fault is None:
            self._links.pop((src, dst), None)
        else:
            self._links[(src, dst)] = fault

    def clear(self) -> None:
        """No faults at all (counters are kept)."""
        self._blocked.clear()
        self._links.clear()
        self._default = NO_FAULT

    @property
    def active(self) -> bool:
        return bool(self._blocked or self._links) or not self._default.is_noop

    # -- the transport's questions -------------------------------------------------

    def on_send(self, src: str, dst: str) -> Verdict:
        if (src, dst) in self._blocked:
            self.counters.blocked_send += 1
            return DROP
        fault = self._links.get((src, dst), self._default)
        if fault.is_noop:
            return DELIVER
        # Draw only what the fault needs, so adding jitter elsewhere does not shift
        # the drop sequence of a link that has none.
        if fault.drop > 0.0 and self._rng.random() < fault.drop:
            self.counters.dropped += 1
            return DROP
        delay_ms = fault.delay_ms
        if fault.jitter_ms > 0.0:
            delay_ms += self._rng.uniform(0.0, fault.jitter_ms)
        if delay_ms <= 0.0:
            return DELIVER
        self.counters.delayed += 1
        return Verdict(True, delay_ms / 1000.0)

    def on_receive(self, src: str, dst: str) -> bool:
        if (src, dst) in self._blocked:
            self.counters.blocked_receive += 1
            return False
        return True

    # -- a JSON-able form for an admin endpoint ----------------------------------

    def describe(self) -> dict[str, object]:
        return {
            "block": [list(link) for link in sorted(self._blocked)],
            "default": self._default.to_obj(),
            "links": [
                {"src": s, "dst": d, **f.to_obj()} for (s, d), f in sorted(self._links.items())
            ],
        }

    def configure(self, spec: object) -> None:
        """Replace every rule with `spec` (the describe() format; absent keys mean none).

        Validates the whole document first, so a bad one changes nothing.
        """
        if not isinstance(spec, Mapping):
            raise MalformedInput("fault spec must be an object")
        unknown = set(spec) - {"block", "default", "links"}
        if unknown:
            raise MalformedInput(f"unknown fault spec keys: {sorted(map(str, unknown))}")
        blocked = {_link(item) for item in _list(spec.get("block", []), "block")}
        default = _fault(spec.get("default", {}), "default")
        links: dict[tuple[str, str], LinkFault] = {}
        for item in _list(spec.get("links", []), "links"):
            if not isinstance(item, Mapping):
                raise MalformedInput("each entry of links must be an object")
            body = {k: v for k, v in item.items() if k not in ("src", "dst")}
            links[_link([item.get("src"), item.get("dst")])] = _fault(body, "link")
        self._blocked = blocked
        self._default = default
        self._links = links


def _list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise MalformedInput(f"{what} must be a list")
    return value


def _link(value: object) -> tuple[str, str]:
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(n, str) and n for n in value)
    ):
        return (str(value[0]), str(value[1]))
    raise MalformedInput(f"a link must be [src, dst] node ids, got {value!r}"[:200])


def _fault(value: object, what: str) -> LinkFault:
    if not isinstance(value, Mapping):
        raise MalformedInput(f"{what} fault must be an object")
    unknown = set(value) - {"drop", "delay_ms", "jitter_ms"}
    if unknown:
        raise MalformedInput(f"unknown {what} fault keys: {sorted(map(str, unknown))}")
    nums: dict[str, float] = {}
    for key in ("drop", "delay_ms", "jitter_ms"):
        raw = value.get(key, 0.0)
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise MalformedInput(f"{what} fault {key} must be a number")
        nums[key] = float(raw)
    try:
        return LinkFault(**nums)
    except ValueError as exc:
        raise MalformedInput(f"{what} fault: {exc}") from exc
