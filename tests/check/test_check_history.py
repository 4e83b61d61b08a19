"""The history format: parsing, validation errors that name the line, round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from senate.check import Event, events_from_dicts, load_history, parse_events
from senate.check.history import pair_operations
from senate.errors import MalformedInput


def line(**fields: Any) -> str:
    base: dict[str, Any] = {
        "process": 0,
        "type": "invoke",
        "f": "write",
        "key": "x",
        "value": 1,
        "time": 0.0,
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not _DROP})


_DROP = object()
GOOD_PAIR = [line(), line(type="ok", time=1.0)]


def test_parses_a_good_history() -> None:
    events = parse_events(GOOD_PAIR)
    assert events == [
        Event(0, "invoke", "write", "x", 1, 0.0),
        Event(0, "ok", "write", "x", 1, 1.0),
    ]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([line(), "{not json"], "line 2: bad JSON"),
        ([line(), line(type="ok"), "[1, 2]"], "line 3: expected a JSON object"),
        ([line(process=_DROP)], "line 1: missing field 'process'"),
        ([line(time=_DROP)], "line 1: missing field 'time'"),
        ([line(process="a")], "line 1: 'process' must be an integer"),
        ([line(process=True)], "line 1: 'process' must be an integer"),
        ([line(type="done")], "line 1: 'type' must be one of"),
        ([line(f="incr")], "line 1: 'f' must be one of"),
        ([line(key=3)], "line 1: 'key' must be a string"),
        ([line(time="now")], "line 1: 'time' must be a finite number"),
        ([line(value={"a": 1})], "line 1: a write value must be a JSON scalar"),
        ([line(f="cas", value=1)], "line 1: a cas value must be [old, new]"),
        ([line(f="cas", value=[1, 2, 3])], "line 1: a cas value must be [old, new]"),
        (
            ['{"process":0,"type":"invoke","f":"write","key":"x","value":NaN,"time":0}'],
            "line 1: bad JSON",
        ),
        ([line(), line(type="ok"), line(type="ok")], "line 3: ok for process 0 has no open"),
        ([line(type="info")], "line 1: info for process 0 has no open invoke"),
        ([line(), line(f="read", value=None)], "line 2: process 0 invokes read while its"),
        ([line(), line(type="ok", f="read")], "line 2: completion read 'x' does not match"),
        ([line(), line(type="ok", key="y")], "line 2: completion write 'y' does not match"),
        ([line(), line(type="ok", value=2)], "line 2: completion value 2 differs"),
    ],
)
def test_malformed_lines_are_named(lines: list[str], expected: str) -> None:
    with pytest.raises(MalformedInput) as caught:
        parse_events(lines)
    assert expected in str(caught.value)


def test_blank_lines_are_skipped_but_counted() -> None:
    with pytest.raises(MalformedInput, match="line 4: bad JSON"):
        parse_events([line(), "", "   ", "oops"])
    assert len(parse_events(["", *GOOD_PAIR, ""])) == 2


def test_value_may_be_left_out_of_a_read_invoke() -> None:
    read = json.dumps({"process": 1, "type": "invoke", "f": "read", "key": "x", "time": 0})
    assert parse_events([read])[0].value is None


def test_cas_completion_may_repeat_or_omit_the_value() -> None:
    invoke = line(f="cas", value=[1, 2])
    assert parse_events([invoke, line(type="ok", f="cas", value=[1, 2])])[1].value == [1, 2]
    assert parse_events([invoke, line(type="fail", f="cas", value=None)])[1].value is None


def test_load_history_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join(GOOD_PAIR) + "\n", encoding="utf-8")
    assert len(load_history(path)) == 2


def test_load_history_errors_are_malformed_input(tmp_path: Path) -> None:
    with pytest.raises(MalformedInput, match="cannot read history"):
        load_history(tmp_path / "missing.jsonl")
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(MalformedInput, match="not UTF-8"):
        load_history(binary)


def test_events_from_dicts_names_the_event() -> None:
    good = json.loads(GOOD_PAIR[0])
    with pytest.raises(MalformedInput, match="event 2: 'type' must be"):
        events_from_dicts([good, {**good, "type": "bogus"}])


def test_event_construction_validates() -> None:
    with pytest.raises(MalformedInput):
        Event(0, "invoke", "write", "x", float("nan"), 0.0)
    with pytest.raises(MalformedInput):
        Event(0, "invoke", "write", "x", 1, float("inf"))


def test_pairing_keeps_uncompleted_invokes() -> None:
    events = parse_events([line(), line(process=1, f="read", value=None, time=1.0)])
    ops = pair_operations(events)
    assert [(o.process, o.outcome, o.ret) for o in ops] == [(0, None, None), (1, None, None)]


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    f = draw(st.sampled_from(["read", "write", "cas", "delete"]))
    value: Any = [draw(scalars), draw(scalars)] if f == "cas" else draw(scalars)
    return Event(
        process=draw(st.integers(0, 1000)),
        type=draw(st.sampled_from(["invoke", "ok", "fail", "info"])),
        f=f,
        key=draw(st.text(min_size=1, max_size=6)),
        value=value,
        time=draw(st.floats(0, 1e9, allow_nan=False)),
    )


@given(events())
def test_to_json_round_trips(event: Event) -> None:
    text = event.to_json()
    assert "\n" not in text
    again = Event(**json.loads(text))
    assert again == event
