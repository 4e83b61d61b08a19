"""runtime/membership.py: the address book that follows applied conf changes, its
durable file (which wins over --cluster after the first start), and the contexts."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from senate.consensus.types import ConfChange, ConfChangeOp
from senate.errors import StorageError
from senate.runtime.membership import (
    BOOK_FILE,
    MemberAddr,
    MemberBook,
    decode_context,
    encode_context,
)

CLUSTER = {"n1": ("127.0.0.1", 7101), "n2": ("127.0.0.1", 7102), "n3": ("127.0.0.1", 7103)}
ADD, PROMOTE, REMOVE = ConfChangeOp.ADD_LEARNER, ConfChangeOp.PROMOTE, ConfChangeOp.REMOVE


def test_a_fresh_book_takes_the_flags_and_join_leaves_the_node_out_of_the_voters(
    tmp_path: Path,
) -> None:
    book = MemberBook.open(tmp_path / "a", "n1", CLUSTER, "127.0.0.1:8101", join=False)
    assert book.base == {"n1", "n2", "n3"}
    assert book.peers() == {"n2": CLUSTER["n2"], "n3": CLUSTER["n3"]}
    assert book.addrs["n1"] == MemberAddr(CLUSTER["n1"], "127.0.0.1:8101")
    joining = {**CLUSTER, "n4": ("127.0.0.1", 7104)}
    new = MemberBook.open(tmp_path / "b", "n4", joining, "127.0.0.1:8104", join=True)
    assert new.base == {"n1", "n2", "n3"}  # so it never campaigns before it is added


def test_applied_changes_move_the_book_and_a_restart_reads_it_back(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    book = MemberBook.open(tmp_path / "d", "n1", CLUSTER, "127.0.0.1:8101", join=False)
    ctx = encode_context(("127.0.0.1", 7104), "127.0.0.1:8104")
    assert book.apply(ConfChange(ADD, "n4", ctx))
    assert not book.apply(ConfChange(ADD, "n4", ctx))  # replayed after a restart: no change
    assert not book.apply(ConfChange(PROMOTE, "n4"))
    assert book.apply(ConfChange(REMOVE, "n2"))
    assert set(book.peers()) == {"n3", "n4"}
    # Restarted with the old --cluster: the file, not the flags, names the members.
    again = MemberBook.open(tmp_path / "d", "n1", CLUSTER, "127.0.0.1:8101", join=True)
    assert again.base == {"n1", "n2", "n3"}
    assert again.peers() == {"n3": CLUSTER["n3"], "n4": ("127.0.0.1", 7104)}
    assert again.addrs["n4"].http == "127.0.0.1:8104"
    assert again.retain(frozenset({"n1", "n4"}))
    assert set(again.peers()) == {"n4"}
    assert again.apply(ConfChange(REMOVE, "n1"))  # this node itself
    assert again.peers() == {}
    assert MemberBook.open(tmp_path / "d", "n1", CLUSTER, "x:1", join=False).removed


def test_an_unreadable_book_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / BOOK_FILE).write_text('{"base": [], "addrs": {}}')
    with pytest.raises(StorageError):
        MemberBook.open(tmp_path, "n1", CLUSTER, "127.0.0.1:8101", join=False)
    (tmp_path / BOOK_FILE).write_text("{not json")
    with pytest.raises(StorageError):
        MemberBook.open(tmp_path, "n1", CLUSTER, "127.0.0.1:8101", join=False)


def test_contexts_round_trip_and_garbage_decodes_to_none() -> None:
    ctx = encode_context(("::1", 7104), "[::1]:8104")
    assert decode_context(ctx) == MemberAddr(("::1", 7104), "[::1]:8104")
    for bad in (b"", b"\xc1", msgpack.packb([1]), msgpack.packb({"peer": "nope", "http": "a:1"})):
        assert decode_context(bad) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.builds(msgpack.packb, st.dictionaries(st.text(), st.text())))
def test_decode_context_never_raises(data: bytes) -> None:
    decoded = decode_context(data)
    assert decoded is None or isinstance(decoded, MemberAddr)
