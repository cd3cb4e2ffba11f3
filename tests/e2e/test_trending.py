"""examples/trending: the global top 10 of each 5-minute window (sliding every 10 s) equals a direct
computation over the same input and windows, in-process and on 2 worker processes; and the example
runs live (generated hashtags) with `squall run`, logging its top 10s."""

from __future__ import annotations

import random
from pathlib import Path

from cli_process import squall

from squall.testing import complete_topology, read_tuples
from squall.topology.loader import load_topology

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trending" / "trending.py"
Trending = load_topology(f"{EXAMPLE}:Trending")
trending = __import__(Trending.__module__)  # the example's module: its direct computation


def hashtag_file(path, n=30_000, secs=1200.0, seed=3):
    """``n`` hashtags over ``secs`` seconds of event time, in time order, whose favourites change."""
    rng = random.Random(seed)
    tags = [f"#t{i}" for i in range(40)]
    events = []
    for k in range(n):
        ts = 1_700_000_000 + k * secs / n
        phase = int(k * 6 / n)  # six eras, each with its own favourites
        rank = min(int(rng.paretovariate(1.1)) - 1, len(tags) - 1)
        events.append((ts, tags[(rank * 7 + phase * 5) % len(tags)]))
    path.write_text("".join(f"{ts!r}\t{tag}\n" for ts, tag in events))
    return events


def test_top10_of_every_window_equals_the_direct_computation(tmp_path, workers):
    events = hashtag_file(tmp_path / "tags.tsv")
    result = complete_topology(Trending, workers=workers, conf={"trending.source": str(tmp_path / "tags.tsv")})
    got = {end: [list(x) for x in top] for end, top in read_tuples(result, "total")}
    ends = trending.window_ends(events)
    # every window but the last few (a counting task that ran out of tuples reports no later window)
    assert len(got) >= len(ends) - 3, (len(got), len(ends))
    for end, top in got.items():
        assert top == trending.direct_top(events, end), end
    assert len({tuple(map(tuple, t[:3])) for t in got.values()}) >= 6  # the rankings did change
    assert result.component_totals()["hashtags"]["acked"] == len(events)  # each tuple acked once it left its windows


def test_the_example_runs_live_and_logs_its_top10():
    code, out, err = squall(
        "run", str(EXAMPLE), "--duration", "18", "--no-ui", "--conf", "trending.rate=500", timeout=90
    )
    assert code == 0, err
    tops = [line for line in (out + err).splitlines() if "top 10 at" in line or ("top " in line and " at " in line)]
    assert tops, err[-3000:]
    assert "#" in tops[-1]
