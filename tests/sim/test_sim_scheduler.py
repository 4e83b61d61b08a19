"""The scheduler: order, cancellation, random streams and the trace hash."""

from __future__ import annotations

import io

from senate.sim.scheduler import Scheduler


def test_events_fire_in_time_then_schedule_order() -> None:
    s = Scheduler(1)
    fired: list[str] = []
    s.at(20, "c", lambda: fired.append("c"))
    s.at(10, "a", lambda: fired.append("a"))
    s.at(20, "d", lambda: fired.append("d"))
    s.at(10, "b", lambda: fired.append("b"))
    while s.step():
        pass
    assert fired == ["a", "b", "c", "d"]
    assert s.now == 20


def test_cancelled_events_do_not_fire_or_count() -> None:
    s = Scheduler(1)
    fired: list[str] = []
    h = s.at(5, "x", lambda: fired.append("x"))
    s.at(6, "y", lambda: fired.append("y"))
    h.cancel()
    s.run_until(100)
    assert fired == ["y"]
    assert s.events_fired == 1
    assert s.now == 100


def test_events_scheduled_in_the_past_run_now() -> None:
    s = Scheduler(1)
    s.at(50, "later", lambda: s.at(10, "past", lambda: None))
    s.run_until(1000)
    assert s.events_fired == 2


def test_random_streams_depend_on_seed_and_name_only() -> None:
    a, b = Scheduler(7), Scheduler(7)
    a.rng("net").random()  # drawing from one stream does not shift another
    assert a.rng("clients").random() == b.rng("clients").random()
    assert Scheduler(8).rng("net").random() != b.rng("net").random()


def _run(seed: int, trace: io.StringIO | None = None) -> str:
    s = Scheduler(seed, trace)
    rng = s.rng("x")
    for i in range(50):
        s.at(rng.randrange(1000), f"e{i}", lambda: None)
    s.run_until(10_000)
    return s.trace_hash


def test_trace_hash_is_deterministic_and_seed_sensitive() -> None:
    assert _run(3) == _run(3)
    assert _run(3) != _run(4)


def test_trace_file_gets_one_line_per_event() -> None:
    out = io.StringIO()
    _run(3, out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 50
    times = [int(line.split()[0]) for line in lines]
    assert times == sorted(times)
