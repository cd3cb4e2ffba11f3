"""Repeated log lines are collapsed: the first few, then one per period with the count suppressed."""

import io
import logging
import re

from squall.local.logs import COLLAPSE_FIRST, Collapser, CollapsingHandler


def record(msg, *args, name="count_bolt:1", level=logging.INFO, at=0.0, exc_info=None):
    r = logging.LogRecord(name, level, __file__, 1, msg, args or None, exc_info)
    r.created = at
    return r


def texts(records):
    return [r.getMessage() for r in records]


def test_first_lines_pass_then_a_note_then_one_line_per_period_with_the_count():
    c = Collapser(every=5.0)
    base = 1_000_000.0
    written = []
    for i in range(1, 1001):  # 64 lines a second for 15.6 s
        written += texts(c.admit(record(f"counted [{i * 1000:,}] words", at=base + i / 64)))
    assert written[:COLLAPSE_FIRST] == [f"counted [{i:,}] words" for i in range(1000, 6000, 1000)]
    assert written[COLLAPSE_FIRST].startswith("(similar lines collapsed from here on: one every 5s with a count;")
    # 5 s after the 5th line: the count of those suppressed, then the line itself; again every 5 s
    assert written[COLLAPSE_FIRST + 1 :] == [
        "... 319 similar line(s) suppressed in 5.0s",
        "counted [325,000] words",
        "... 319 similar line(s) suppressed in 5.0s",
        "counted [645,000] words",
        "... 319 similar line(s) suppressed in 5.0s",
        "counted [965,000] words",
    ]
    left = texts(c.flush())  # at exit: what is suppressed since the last line written
    assert len(left) == 1 and left[0].startswith("... 35 similar line(s) suppressed in ")
    assert c.flush() == []


def test_lines_differing_only_in_numbers_are_one_kind_others_are_not():
    c = Collapser(every=5.0, first=1)
    assert texts(c.admit(record("counted [1,000] words [pid=12]"))) == ["counted [1,000] words [pid=12]"]
    assert len(c.admit(record("counted [1,001,000] words [pid=12]", at=0.1))) == 1  # the note: same kind
    assert c.admit(record("counted [2,001,000] words [pid=12]", at=0.2)) == []
    assert texts(c.admit(record("emitted %d words", 5, at=0.3))) == ["emitted 5 words"]  # another text
    assert texts(c.admit(record("counted [1] words [pid=12]", name="count_bolt:2", at=0.4))) == [
        "counted [1] words [pid=12]"
    ]  # another logger
    assert texts(c.admit(record("counted [1] words [pid=12]", level=logging.WARNING, at=0.5))) == [
        "counted [1] words [pid=12]"
    ]  # another level


def test_errors_tracebacks_and_squalls_own_lines_are_never_collapsed():
    c = Collapser(every=5.0, first=1)
    for i in range(20):
        assert len(c.admit(record("error in process: %d", i, level=logging.ERROR))) == 1
        assert len(c.admit(record("failed %d", i, exc_info=(ValueError, ValueError("x"), None)))) == 1
        assert len(c.admit(record("worker %d restarted", i, name="squall.run"))) == 1
        assert len(c.admit(record("stats %d", i, name="squall"))) == 1
    assert len(c.admit(record("x 1", name="squall_events"))) == 1  # a user's logger: collapsed
    assert len(c.admit(record("x 2", name="squall_events"))) == 1  # (the note)
    assert c.admit(record("x 3", name="squall_events")) == []


def test_zero_writes_every_line():
    c = Collapser(every=0)
    assert all(len(c.admit(record("n %d", i, at=i / 1000))) == 1 for i in range(1000))
    assert c.flush() == []


def test_kinds_are_bounded_and_a_forgotten_kind_reports_its_count():
    c = Collapser(every=5.0, first=1, max_kinds=2)
    for text in ("a 1", "a 2", "a 3"):  # a: written, then the note, then suppressed: 2 suppressed
        c.admit(record(text))
    c.admit(record("b 1"))
    forgotten, line = texts(c.admit(record("c 1")))
    assert forgotten.startswith("... 2 similar line(s) suppressed in ") and line == "c 1"
    assert set(c.kinds) == {("count_bolt:1", logging.INFO, "b #"), ("count_bolt:1", logging.INFO, "c #")}


def test_the_handler_writes_what_is_admitted_and_the_counts_when_closed():
    out = io.StringIO()
    handler = CollapsingHandler(out, Collapser(every=5.0, first=2))
    handler.setFormatter(logging.Formatter("%(name)s | %(message)s"))
    log = logging.getLogger("count_bolt:7")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    try:
        for i in range(100):
            log.info("counted [%d] words", i)
    finally:
        log.removeHandler(handler)
    assert out.getvalue().splitlines()[:2] == ["count_bolt:7 | counted [0] words", "count_bolt:7 | counted [1] words"]
    assert len(out.getvalue().splitlines()) == 3  # and the note
    handler.close()
    assert re.fullmatch(
        r"count_bolt:7 \| \.\.\. 98 similar line\(s\) suppressed in [\d.]+s", out.getvalue().splitlines()[3]
    )
