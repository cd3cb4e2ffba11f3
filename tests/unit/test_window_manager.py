"""Window semantics, table-driven against hand-computed expectations (issue 13): sliding and tumbling
windows by time and by count, watermarks, late items, the new and expired lists, and when each item
is released (acked)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from squall.topology.windows import Count, ManualClock, Sliding, Tumbling, WindowManager, spec_problem


def run_time(spec, events):
    """``events``: ("add", name, ts) or ("wm", watermark). Returns what happened, in order:
    ("late", name), ("win", start, end, tuples, new, expired), ("ack", names)."""
    m = WindowManager(spec)
    out = []
    for ev in events:
        if ev[0] == "add":
            if m.add(ev[1], ev[2]) is None:
                out.append(("late", ev[1]))
            continue
        fired = m.advance(ev[1]) if ev[0] == "wm" else m.flush()
        for w in fired.windows:
            out.append(("win", w.start, w.end, "".join(w.tuples), "".join(w.new), "".join(w.expired)))
        if fired.released:
            out.append(("ack", "".join(fired.released)))
    return out


TIME_CASES = {
    "tumbling 10s": (
        Tumbling(10),
        [("add", "a", 1), ("add", "b", 9.99), ("add", "c", 10), ("wm", 10), ("add", "d", 15), ("wm", 25)],
        [
            ("win", 0, 10, "ab", "ab", ""),
            ("ack", "ab"),  # a tumbling window's tuples leave it at once
            ("win", 10, 20, "cd", "cd", "ab"),
            ("ack", "cd"),  # the window [20, 30) ends after the watermark 25: not fired yet
        ],
    ),
    "sliding 10s every 5s": (
        Sliding(10, 5),
        [("add", "a", 1), ("add", "b", 6), ("add", "c", 12), ("wm", 20), ("wm", 30)],
        [
            ("win", -5, 5, "a", "a", ""),
            ("win", 0, 10, "ab", "b", ""),
            ("win", 5, 15, "bc", "c", "a"),  # a (ts 1) is in no window from [5, 15) on
            ("win", 10, 20, "c", "", "b"),
            ("ack", "abc"),  # acked after the windows this watermark fired
            ("win", 15, 25, "", "", "c"),  # nothing in it, but c expired: fired so counts can drop
        ],
    ),
    "empty windows are skipped": (
        Tumbling(10),
        [("add", "a", 1), ("add", "b", 95), ("wm", 200)],
        [
            ("win", 0, 10, "a", "a", ""),
            ("win", 10, 20, "", "", "a"),
            ("win", 90, 100, "b", "b", ""),  # 20..90: nothing in them, nothing expired
            ("win", 100, 110, "", "", "b"),
            ("ack", "ab"),
        ],
    ),
    "late: below the watermark": (
        Sliding(10, 5),
        [("add", "a", 7), ("wm", 10), ("add", "b", 9), ("add", "c", 10), ("wm", 15)],
        [
            ("win", 0, 10, "a", "a", ""),
            ("late", "b"),  # 9 < watermark 10: its windows may have fired
            ("win", 5, 15, "ac", "c", ""),
            ("ack", "a"),
        ],
    ),
    "out of order within the lag": (
        Tumbling(10),
        [("add", "b", 8), ("add", "a", 3), ("add", "c", 12), ("wm", 10)],
        [("win", 0, 10, "ab", "ab", ""), ("ack", "ab")],
    ),
    "an earlier item moves the next window back": (
        Tumbling(10),
        [("add", "b", 25), ("add", "a", 5), ("wm", 30)],
        [
            ("win", 0, 10, "a", "a", ""),
            ("win", 10, 20, "", "", "a"),
            ("win", 20, 30, "b", "b", ""),
            ("ack", "ab"),
        ],
    ),
    "flush fires and releases everything": (
        Sliding(10, 5),
        [("add", "a", 1), ("flush",)],
        [("win", -5, 5, "a", "a", ""), ("win", 0, 10, "a", "", ""), ("win", 5, 15, "", "", "a"), ("ack", "a")],
    ),
}


@pytest.mark.parametrize("case", TIME_CASES, ids=list(TIME_CASES))
def test_time_windows(case):
    spec, events, expected = TIME_CASES[case]
    assert run_time(spec, events) == expected


def run_count(spec, names):
    m = WindowManager(spec)
    out = []
    for n in names:
        fired = m.add(n)
        for w in fired.windows:
            out.append(("win", "".join(w.tuples), "".join(w.new), "".join(w.expired)))
        if fired.released:
            out.append(("ack", "".join(fired.released)))
    return out


COUNT_CASES = {
    "tumbling 3": (
        Tumbling(Count(3)),
        "abcdefg",
        [("win", "abc", "abc", ""), ("ack", "abc"), ("win", "def", "def", "abc"), ("ack", "def")],
    ),
    "sliding 3 every 1": (
        Sliding(Count(3), Count(1)),
        "abcde",
        [
            ("win", "a", "a", ""),
            ("win", "ab", "b", ""),
            ("win", "abc", "c", ""),
            ("ack", "a"),
            ("win", "bcd", "d", "a"),
            ("ack", "b"),
            ("win", "cde", "e", "b"),
            ("ack", "c"),
        ],
    ),
    "sliding 4 every 2": (
        Sliding(Count(4), Count(2)),
        "abcdefgh",
        [
            ("win", "ab", "ab", ""),
            ("win", "abcd", "cd", ""),
            ("ack", "ab"),
            ("win", "cdef", "ef", "ab"),
            ("ack", "cd"),
            ("win", "efgh", "gh", "cd"),
            ("ack", "ef"),
        ],
    ),
}


@pytest.mark.parametrize("case", COUNT_CASES, ids=list(COUNT_CASES))
def test_count_windows(case):
    spec, names, expected = COUNT_CASES[case]
    assert run_count(spec, names) == expected


def test_every_item_is_released_once_and_in_order_of_its_last_window():
    m = WindowManager(Sliding(30, 10))
    released = []
    for i in range(1000):
        assert m.add(i, i * 0.37) is not None
        if i % 50 == 0:
            released += m.advance(i * 0.37 - 2).released
    released += m.flush().released
    assert sorted(released) == list(range(1000))
    assert len(m) == 0


def test_the_watermark_never_goes_back():
    m = WindowManager(Tumbling(10))
    m.add("a", 15)
    m.advance(20)
    assert m.advance(5).windows == []
    assert m.watermark == 20
    assert m.add("b", 12) is None and m.late == 1


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (Sliding(10, 20), "more than length"),
        (Sliding(Count(2), Count(3)), "more than length"),
        (Sliding(10, Count(3)), "both"),
        (Tumbling(0), "positive"),
        (Tumbling(Count(0)), "n >= 1"),
        ("5 minutes", "not a window"),
    ],
)
def test_bad_windows(spec, problem):
    assert problem in spec_problem(spec)


def test_manual_clock():
    c = ManualClock(5)
    c.advance(2.5)
    assert c() == 7.5
    c.set(0)
    assert c() == 0
    assert math.isinf(WindowManager(Tumbling(1)).watermark)


@settings(max_examples=300, deadline=None)
@given(
    length_every=st.sampled_from([(10, 5), (10, 10), (30, 10), (7, 3), (5, 1)]),
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.floats(0, 200, allow_nan=False)),
            st.tuples(st.just("wm"), st.floats(0, 220, allow_nan=False)),
        ),
        max_size=60,
    ),
)
def test_windows_hold_exactly_their_span_and_update_by_new_and_expired(length_every, steps):
    """Every fired window holds exactly the accepted items of its span; each window is the previous
    one minus its expired plus its new (so incremental counts are right); every item is released once."""
    length, every = length_every
    m = WindowManager(Sliding(length, every))
    accepted, released, prev, k = [], [], set(), 0

    def check(fired):
        nonlocal prev
        for w in fired.windows:
            span = {i for i, ts in accepted if w.start <= ts < w.end}
            assert {i for i, _ in w.tuples} == span
            assert span == (prev - {i for i, _ in w.expired}) | {i for i, _ in w.new}
            prev = span
        released.extend(fired.released)

    for kind, x in steps:
        if kind == "add":
            k += 1
            item = (k, x)
            if m.add(item, x) is not None:
                accepted.append(item)
        else:
            check(m.advance(x))
    check(m.flush())
    assert sorted(released) == sorted(accepted)
