"""Backends under real concurrency and real crashes, on both backends: worker processes staging
checkpoints while another process commits them, and a committing process killed with SIGKILL."""

from __future__ import annotations

import multiprocessing
import queue as queues
import random
import time
from collections import Counter

import pytest
from backend_procs import BackendSpec, committer, expected, opener, size, writer

SPAWN = multiprocessing.get_context("spawn")  # fresh interpreters, as worker processes are
FORK = multiprocessing.get_context("fork")  # starts at once: for many short processes (nothing opened before)
WRITERS = 4
CHECKPOINTS = 200


def _stop(procs):
    for p in procs:
        if p.is_alive():
            p.kill()
        p.join(30)


@pytest.mark.timeout(180)
def test_four_writer_processes_and_a_committer(backend_spec, backend):
    """4 processes stage 200 checkpoints each (one task each, every fifth checkpoint written twice);
    this process commits checkpoint n once all 4 reported it, then checks every task's committed
    state against the changes of checkpoints 1..n. No error ('database is locked') may escape."""
    reports = SPAWN.Queue()
    procs = [SPAWN.Process(target=writer, args=(backend_spec, t, CHECKPOINTS, reports)) for t in range(WRITERS)]
    for p in procs:
        p.start()
    try:
        written = Counter()
        n = 1
        while n <= CHECKPOINTS:
            try:
                kind, task, what = reports.get(timeout=60)
            except queues.Empty:
                pytest.fail(
                    f"no writer reported for 60 s (committed {n - 1}, exit codes {[p.exitcode for p in procs]})"
                )
            assert kind == "written", f"writer of task {task} failed:\n{what}"
            written[what] += 1
            while written[n] == WRITERS:
                backend.commit(n)
                assert backend.committed() == n
                for t in range(WRITERS):
                    assert backend.load(t) == expected(t, n), f"task {t} after commit {n}"
                    assert backend.size(t) == size(expected(t, n))
                n += 1
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * WRITERS
        assert backend.tasks() == list(range(WRITERS))
    finally:
        _stop(procs)


@pytest.mark.timeout(180)
def test_a_committer_killed_in_a_loop_of_commits_leaves_committed_and_state_in_agreement(backend_spec, backend):
    """The committing process killed with SIGKILL at random moments, 5 times, each restarted from
    what is committed: each time, the state holds exactly the changes of checkpoints <= committed."""
    tasks = 3
    rng = random.Random(13)
    committed = 0
    for _ in range(5):
        proc = SPAWN.Process(target=committer, args=(backend_spec, tasks))
        proc.start()
        try:
            target = committed + rng.randint(5, 40)
            deadline = time.monotonic() + 60
            while backend.committed() < target:
                assert proc.is_alive(), f"the committer exited with {proc.exitcode}"
                assert time.monotonic() < deadline, f"committed {backend.committed()}, not {target}, after 60 s"
                time.sleep(0.002)
            time.sleep(rng.random() * 0.02)  # somewhere in a write or a commit
        finally:
            proc.kill()
            proc.join(30)
        assert proc.exitcode == -9
        now = backend.committed()
        assert now >= target
        for t in range(tasks):
            assert backend.load(t) == expected(t, now), f"task {t} at committed {now}"
            assert backend.size(t) == size(expected(t, now))
        committed = now


@pytest.mark.timeout(180)
def test_eight_processes_open_a_new_topologys_backend_at_the_same_moment(backend_spec):
    """Workers starting together on a topology never seen: the first open creates the file (SQLite:
    switching it to WAL mode does not wait on the busy timeout), the others must not fail."""
    for attempt in range(8):
        spec = BackendSpec(f"{backend_spec.topology}-{attempt}", backend_spec.conf)
        barrier = FORK.Barrier(8)
        procs = [FORK.Process(target=opener, args=(spec, t, barrier)) for t in range(8)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 8, f"attempt {attempt}"
        backend = spec.open()
        try:
            backend.commit(1)
            assert backend.tasks() == list(range(8))
        finally:
            backend.reset()
            backend.close()
