"""Exactly-once state: a StatefulBolt word count whose workers are killed -9 mid-run ends with the
state equal to collections.Counter of its input (docs/state.md)."""

from __future__ import annotations

import io
import os
import random
import signal
import threading
import time
from typing import Any

import pytest
import state_topologies as S

from squall.local.coordinator import Coordinator
from squall.local.statistics import RunState
from squall.state import open_backend
from squall.state.kv import decoded

N = 200_000
KILLS = 5


def counts(conf: dict[str, Any], name: str = "StatefulWordCount") -> tuple[dict[str, int], dict[int, Any], int]:
    """The committed state: word counts summed over the counting tasks, the spouts' positions, the id."""
    backend = open_backend(name, conf)
    try:
        words: dict[str, int] = {}
        positions = {}
        for task in backend.tasks():
            state = decoded(backend.load(task))
            if "position" in state:
                positions[task] = state["position"]
                continue
            for w, n in state.items():
                words[w] = words.get(w, 0) + n
        return words, positions, backend.committed()
    finally:
        backend.close()


def run_with_kills(conf: dict[str, Any], kills: int, seed: int) -> tuple[Any, list[int], Coordinator]:
    """Run the stateful word count, killing a random worker -9 ``kills`` times at random moments
    (each once the previous rollback is over and the topology runs again)."""
    coord = Coordinator(S.StatefulWordCount, conf, timeout=240, status_out=io.StringIO(), handle_signals=False)
    out: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: out.setdefault("result", coord.run()))
    runner.start()
    rng = random.Random(seed)
    killed: list[int] = []
    deadline = time.monotonic() + 120
    while len(killed) < kills and runner.is_alive() and time.monotonic() < deadline:
        live = [h for i, h in coord.handles.items() if i not in coord.restart_at and h.poll() is None]
        up = len(live) == len(coord.handles) == len(coord.ready) and coord.state is RunState.ACTIVE
        if not up:
            time.sleep(0.05)
            continue
        time.sleep(rng.uniform(0.3, 2.0))  # a random moment: maybe mid-checkpoint, maybe between two
        victim = rng.choice(live)
        try:
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)
        except ProcessLookupError:
            pass
    runner.join(timeout=300)
    assert not runner.is_alive(), "the run did not end by itself"
    return out["result"], killed, coord


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_exactly_once_through_five_kills(tmp_path: Any) -> None:
    # 3 workers; paced at 8k words/s per spout task (~12 s undisturbed) so that the kills land mid-run
    conf = {
        "topology.workers": 3,
        "test.n": N,
        "test.rate": 8000,
        "squall.state.dir": str(tmp_path),
        "topology.state.checkpoint.interval.ms": 500,
    }
    result, killed, coord = run_with_kills(conf, KILLS, seed=13)
    assert len(killed) == KILLS, f"the run ended after {len(killed)} kills"
    assert result.reason == "completed", result.message
    words, positions, committed = counts(conf)
    assert words == dict(S.expected(N))  # no double count, no loss
    assert sorted(positions.values()) == [N, N + 1]  # each spout task read its input to the end
    figures = coord.statistics().checkpoints
    assert figures["committed"] == committed >= 3
    assert all(inc >= 1 for inc in coord.incarnation.values())  # every worker was restarted


@pytest.mark.slow
def test_a_new_run_resumes_from_the_last_committed_checkpoint(tmp_path: Any) -> None:
    conf: dict[str, Any] = {"topology.workers": 2, "test.n": 10_000, "squall.state.dir": str(tmp_path)}
    first = Coordinator(S.StatefulWordCount, conf, timeout=60, status_out=io.StringIO(), handle_signals=False).run()
    assert first.reason == "completed", first.message
    words, _, committed = counts(conf)
    assert words == dict(S.expected(10_000)) and committed >= 1
    # the same topology, more input: its spouts seek to where the last run's final checkpoint was
    conf["test.n"] = 25_000
    second = Coordinator(S.StatefulWordCount, conf, timeout=60, status_out=io.StringIO(), handle_signals=False).run()
    assert second.reason == "completed", second.message
    words, _, later = counts(conf)
    assert words == dict(S.expected(25_000)) and later > committed
    emitted = sum(t["emitted"] for t in second.tasks.values() if t["component"] == "words")
    assert emitted == 15_000  # only what came after the checkpoint was read again


@pytest.mark.parametrize("ackers", [0, None], ids=["acking-off", "acking-on"])
def test_checkpoints_back_to_back_still_end_with_every_word(tmp_path: Any, ackers: Any) -> None:
    # a checkpoint every millisecond: one is nearly always in progress when the input ends, so the
    # run's final checkpoint must be a new one (not the one already under way, begun before the end)
    conf: dict[str, Any] = {
        "topology.workers": 2,
        "test.n": 30_000,
        "squall.state.dir": str(tmp_path),
        "topology.state.checkpoint.interval.ms": 1,
        "topology.acker.executors": ackers,
    }
    result = Coordinator(S.StatefulWordCount, conf, timeout=90, status_out=io.StringIO(), handle_signals=False).run()
    assert result.reason == "completed", result.message
    words, positions, committed = counts(conf)
    assert words == dict(S.expected(30_000))
    assert sorted(positions.values()) == [30_000, 30_001] and committed >= 2
