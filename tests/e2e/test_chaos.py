"""Kill -9 worker processes while a reliable topology runs: nothing is lost."""

import glob
import itertools
import os
import random
import signal
import threading
import time

import pytest
import reliable_topologies as R

from squall.local.coordinator import Coordinator
from squall.local.statistics import RunState

N = 100_000
KILLS = 5


def read_ids(pattern):
    ids = set()
    for path in glob.glob(pattern):
        with open(path) as f:
            ids.update(int(x) for x in f.read().split())
    return ids


@pytest.mark.slow
@pytest.mark.timeout(360)  # beyond the run's own bounds (timeout 240 s), so they report first
def test_kill_workers_nothing_lost(tmp_path):
    import io

    # Paced at 15k messages/s so that the run lasts long enough for the kills (~7 s undisturbed).
    coord = Coordinator(
        R.ChaosTopo,
        {
            "topology.workers": 2,
            "test.dir": str(tmp_path),
            "test.n": N,
            "test.rate": 15000,
            "squall.stats.interval.secs": 0.2,
        },
        timeout=240,
        status_out=io.StringIO(),
        handle_signals=False,
    )
    out = {}
    runner = threading.Thread(target=lambda: out.setdefault("result", coord.run()))
    runner.start()
    rng = random.Random(7)
    killed = []
    snapshots = []  # what a UI would have shown: a restarted worker's counts must not go back
    snap = coord.wait_statistics(timeout=120)
    while snap.state is RunState.STARTING:  # a worker that dies while the run starts fails it: kill once active
        snap = coord.wait_statistics(snap, timeout=120)
    assert snap.state is RunState.ACTIVE, snap.state
    deadline = time.monotonic() + 60
    while len(killed) < KILLS and time.monotonic() < deadline and runner.is_alive():
        time.sleep(0.8)  # pacing: the kills are spread over the run (not a wait for some state)
        snapshots.append(coord.statistics())
        live = [h for i, h in coord.handles.items() if i not in coord.restart_at and h.poll() is None]
        if len(live) < len(coord.handles):
            continue  # wait until the last victim is back
        victim = rng.choice(live)
        try:
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)
        except ProcessLookupError:
            pass
    runner.join(timeout=300)
    assert not runner.is_alive(), "the run did not end by itself"
    result = out["result"]
    assert len(killed) == KILLS, f"the run ended after {len(killed)} kills"
    assert result.reason == "completed", result.message
    acked = read_ids(str(tmp_path / "acked-*.log"))
    seen = read_ids(str(tmp_path / "seen-*.log"))
    assert acked == set(range(N))  # every message id acked at the spout
    assert seen == set(range(N))  # the sink saw every id at least once
    spout = [st for st in result.tasks.values() if st["component"] == "numbers"]
    assert spout and all(st["pending"] == 0 for st in spout)  # nothing pending
    assert sum("died: killed by SIGKILL" in e["error"] for e in result.errors) == KILLS
    snapshots.append(result.statistics)
    for before, after in itertools.pairwise(snapshots):
        for name, c in after.components.items():
            assert c.emitted >= before.components[name].emitted and c.acked >= before.components[name].acked
    assert sum(w.restarts for w in result.statistics.workers) == KILLS
