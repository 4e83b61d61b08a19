"""Message envelopes and the handshake."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from senate.errors import MalformedInput
from senate.wire.codec import (
    PROTOCOL_VERSION,
    Codec,
    Hello,
    Reject,
    answer_problem,
    decode_handshake,
    refusal,
)
from senate.wire.frame import decode_frame, encode_frame
from senate.wire.probe import PROBE, Probe, register_probe


def _codec() -> Codec:
    codec = Codec()
    register_probe(codec)
    return codec


def test_probe_round_trip_through_a_frame() -> None:
    codec = _codec()
    msg = Probe("n1", "n2", 7, b"\x00payload")
    wire = decode_frame(encode_frame(codec.encode_message(PROBE, msg)))
    assert codec.decode_message(wire) == msg


def test_hello_and_reject_round_trip() -> None:
    hello = Hello("c1", "n1")
    assert hello.protocol_version == PROTOCOL_VERSION
    assert decode_handshake(decode_frame(encode_frame(hello.to_wire()))) == hello
    reject = Reject("unknown node 'n9'")
    assert decode_handshake(decode_frame(encode_frame(reject.to_wire()))) == reject


@pytest.mark.parametrize(
    "obj",
    [
        None,
        ["hello"],
        ["hello", [1, "c"]],
        ["hello", ["1", "c", "n"]],
        ["hello", [True, "c", "n"]],
        ["hello", [1, "", "n"]],
        ["hello", [1, "c", 5]],
        ["hello", [1, "c", "n" * 1000]],
        ["reject", 3],
        ["probe", ["n1", "n2", 0, b""]],
    ],
)
def test_bad_handshakes_are_malformed(obj: object) -> None:
    with pytest.raises(MalformedInput):
        decode_handshake(obj)


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ("probe", "envelope"),
        (["probe"], "envelope"),
        ([1, []], "kind"),
        (["nope", []], "unknown message kind"),
        (["probe", ["n1", "n2"]], "bad probe"),
        (["probe", ["n1", "n2", True, b""]], "bad probe"),
        (["probe", [1, "n2", 0, b""]], "bad probe"),
    ],
)
def test_bad_envelopes_are_malformed(obj: object, reason: str) -> None:
    with pytest.raises(MalformedInput, match=reason):
        _codec().decode_message(obj)


def test_a_crashing_decoder_is_reported_as_malformed_input() -> None:
    codec = Codec()

    def fragile(obj: object) -> Probe:
        assert isinstance(obj, list)
        return Probe(*obj)  # TypeError on the wrong number of fields

    codec.register("fragile", fragile)
    with pytest.raises(MalformedInput, match="fragile decoder failed: TypeError"):
        codec.decode_message(["fragile", [1, 2, 3, 4, 5]])


def test_a_decoder_must_produce_src_and_dst() -> None:
    @dataclass
    class NoAddress:
        x: int

    codec = Codec()
    codec.register("odd", lambda obj: NoAddress(1))  # type: ignore[arg-type, return-value]
    with pytest.raises(MalformedInput, match="src/dst"):
        codec.decode_message(["odd", None])


def test_reserved_and_unregistered_kinds() -> None:
    codec = _codec()
    for kind in ("hello", "reject", ""):
        with pytest.raises(ValueError):
            codec.register(kind, Probe.from_wire)
    with pytest.raises(MalformedInput, match="not registered"):
        codec.encode_message("raft", Probe("a", "b"))
    assert codec.kinds() == frozenset({PROBE})


def test_a_message_without_to_wire_cannot_be_encoded() -> None:
    @dataclass
    class Bare:
        src: str
        dst: str

    with pytest.raises(MalformedInput, match="no to_wire"):
        _codec().encode_message(PROBE, Bare("a", "b"))


def test_acceptor_refusals() -> None:
    def why(hello: Hello) -> str | None:
        return refusal(hello, cluster_id="c", node_id="n1", known={"n2"})

    assert why(Hello("c", "n2")) is None
    assert "protocol version 99" in (why(Hello("c", "n2", 99)) or "")
    assert "cluster id 'other'" in (why(Hello("other", "n2")) or "")
    assert "own" in (why(Hello("c", "n1")) or "")
    assert "unknown node 'n3'" in (why(Hello("c", "n3")) or "")


def test_dialer_checks_the_answer() -> None:
    def why(answer: Hello | Reject) -> str | None:
        return answer_problem(answer, cluster_id="c", expected="n2")

    assert why(Hello("c", "n2")) is None
    assert "refused by the peer: go away" in (why(Reject("go away")) or "")
    assert "cluster 'x'" in (why(Hello("x", "n2")) or "")
    assert "is 'n3'" in (why(Hello("c", "n3")) or "")
    assert "protocol 2" in (why(Hello("c", "n2", 2)) or "")
