"""The RESP2 request parser: framing, pipelining, bounds, inline commands, and a fuzz test
that garbage only ever raises ProtocolError."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from senate.resp.parser import ProtocolError, RequestParser, split_inline
from senate.resp.reply import Error, Simple, encode


def request(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def test_pipelined_requests_in_one_feed() -> None:
    p = RequestParser()
    data = request(b"SET", b"k", b"v") + request(b"GET", b"k") + b"PING\r\n"
    assert p.feed(data) == [[b"SET", b"k", b"v"], [b"GET", b"k"], [b"PING"]]
    assert p.buffered == 0


@given(st.lists(st.lists(st.binary(max_size=40), min_size=1, max_size=5), max_size=8), st.data())
def test_any_split_of_a_stream_gives_the_same_commands(
    commands: list[list[bytes]], data: st.DataObject
) -> None:
    stream = b"".join(request(*c) for c in commands)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    p = RequestParser()
    got: list[list[bytes]] = []
    last = 0
    for cut in [*cuts, len(stream)]:
        got += p.feed(stream[last:cut])
        last = cut
    assert got == commands


def test_binary_values_keep_crlf_and_nul() -> None:
    assert RequestParser().feed(request(b"SET", b"k", b"a\r\nb\x00")) == [
        [b"SET", b"k", b"a\r\nb\x00"]
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"*abc\r\n", "invalid multibulk length"),
        (b"*2\r\n$-5\r\n", "invalid bulk length"),
        (b"*1\r\n$99999999999\r\n", "invalid bulk length"),
        (b"*1\r\n:5\r\n", "expected '$', got ':'"),
        (b"*1\r\n$3\r\nabcde\r\n", "not terminated"),
        (b"*" + b"9" * 30, "invalid multibulk length"),
        (b"*2000000\r\n", "invalid multibulk length"),
        (b'SET "unterminated\r\n', "unbalanced quotes"),
    ],
)
def test_protocol_errors_are_final(data: bytes, message: str) -> None:
    p = RequestParser(max_bulk=1 << 20)
    with pytest.raises(ProtocolError, match=re.escape(message)):
        p.feed(data)
    with pytest.raises(ProtocolError):
        p.feed(b"PING\r\n")  # the stream has lost its framing


def test_oversized_inline_is_refused_without_waiting_for_a_newline() -> None:
    p = RequestParser(max_inline=1024)
    with pytest.raises(ProtocolError, match="too big inline request"):
        p.feed(b"A" * 2000)


def test_commands_before_a_protocol_error_are_kept() -> None:
    with pytest.raises(ProtocolError) as info:
        RequestParser().feed(request(b"PING") + b"*x\r\n")
    assert info.value.commands == [[b"PING"]]


def test_inline_quoting_like_redis() -> None:
    assert split_inline(b'set "a b" \'c d\' "\\x41\\n"') == [b"set", b"a b", b"c d", b"A\n"]
    assert split_inline(b"   ") == []
    with pytest.raises(ProtocolError):
        split_inline(b'"abc"def')


def test_empty_arrays_and_blank_lines_are_ignored() -> None:
    assert RequestParser().feed(b"*0\r\n\r\n*-1\r\nPING\r\n") == [[b"PING"]]


def test_reply_encoding() -> None:
    assert encode([1, b"x", None, Simple("OK"), Error("ERR a\r\nb")]) == (
        b"*5\r\n:1\r\n$1\r\nx\r\n$-1\r\n+OK\r\n-ERR a  b\r\n"
    )


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=64),
            st.sampled_from(
                [
                    b"*",
                    b"$",
                    b"\r\n",
                    b"*3\r\n",
                    b"$5\r\n",
                    b"-1",
                    b"99999999999999999999",
                    b'"',
                    b"'",
                    b"\\x4",
                    b" ",
                    b"\n",
                    b"*1\r\n$0\r\n\r\n",
                ]
            ),
        ),
        max_size=30,
    )
)
def test_garbage_only_ever_raises_protocol_error(chunks: list[bytes]) -> None:
    p = RequestParser(max_bulk=4096, max_array=64, max_inline=256)
    for chunk in chunks:
        try:
            for cmd in p.feed(chunk):
                assert cmd and all(isinstance(a, bytes) for a in cmd)
        except ProtocolError:
            break
    assert p.buffered <= 4096 + 256 + 64
