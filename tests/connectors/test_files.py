"""FileSpout on real workers: numbered lines over several files (new ones appear while it runs),
the spout's worker killed with SIGKILL twice, every line seen and every file's persisted offset at
its end; poison lines on the error stream while the rest goes on."""

from __future__ import annotations

import os
import threading
import time

import files_topologies as T
from connector_harness import read_seen, run_killing

from squall.connectors.files import read_offsets

N_OLD_FILES, N_NEW_FILES, PER_FILE = 3, 2, 10_000  # 50,000 lines


def write_lines(path: str, numbers: range, pace: float = 0.0, chunk: int = 500) -> None:
    with open(path, "a") as f:
        for start in range(numbers.start, numbers.stop, chunk):
            f.write("".join(f"{n}\n" for n in range(start, min(start + chunk, numbers.stop))))
            f.flush()
            if pace:
                time.sleep(pace)


def test_every_line_is_processed_through_two_kills_and_offsets_end_at_every_file(tmp_path):
    data, offsets, seen_dir = tmp_path / "in", tmp_path / "offsets", tmp_path / "seen"
    data.mkdir(), seen_dir.mkdir()
    for i in range(N_OLD_FILES):
        write_lines(str(data / f"old-{i}.log"), range(i * PER_FILE, (i + 1) * PER_FILE))
    total = (N_OLD_FILES + N_NEW_FILES) * PER_FILE
    first_new = N_OLD_FILES * PER_FILE

    def produce_new_files():  # paced: the run lasts long enough for two kills and restarts
        for j in range(N_NEW_FILES):
            start = first_new + j * PER_FILE
            write_lines(str(data / f"new-{j}.log"), range(start, start + PER_FILE), pace=0.25)

    expected = {str(n) for n in range(total)}

    def offsets_at_end() -> bool:
        recorded = read_offsets(str(offsets))
        paths = [str(p) for p in data.iterdir()]
        return len(paths) == N_OLD_FILES + N_NEW_FILES and all(recorded.get(p) == os.path.getsize(p) for p in paths)

    def done() -> bool:
        return not writer.is_alive() and expected <= set(read_seen(str(seen_dir))) and offsets_at_end()

    writer = threading.Thread(target=produce_new_files, daemon=True)
    writer.start()
    conf = {
        "file.path": str(data),
        "file.offsets.dir": str(offsets),
        "file.offsets.commit.period.ms": 50,
        "file.scan.interval.ms": 200,
        "test.dir": str(seen_dir),
    }
    # killed once the persisted offsets moved since the last kill (the restarted spout committed): a
    # kill before any record would only show that a spout with no record reads from the start
    run = run_killing(
        T.FilesToSink, conf, victim="lines", done=done, progress=lambda: sum(read_offsets(str(offsets)).values())
    )
    writer.join()
    assert len(run.killed) == 2
    seen = read_seen(str(seen_dir))
    assert expected == set(seen)
    assert offsets_at_end()
    # at-least-once: what was processed after the last persisted prefix comes again, not more: per
    # kill, the lines in flight (max.spout.pending: 1000) and those processed since the last commit
    # (50 ms at up to 100,000 lines/s here): 3,900 to 12,300 in all were measured. A restarted
    # spout that ignored its records would read the 30,000 old lines again at each kill.
    assert len(seen) - total < total // 2, len(seen) - total


def test_poison_lines_go_to_the_error_stream_and_the_rest_goes_on(tmp_path):
    data, seen_dir = tmp_path / "in", tmp_path / "seen"
    data.mkdir(), seen_dir.mkdir()
    lines = []
    for n in range(2000):
        lines.append(f'{{"id": {n}}}' if n % 100 else ("not json" if n % 200 else '{"no_id": 1}'))
    (data / "a.log").write_text("\n".join(lines) + "\n")
    poisoned = {n for n in range(2000) if n % 100 == 0}

    def done() -> bool:
        return len(set(read_seen(str(seen_dir)))) >= 2000 - len(poisoned) and len(
            read_seen(str(seen_dir / "errors"))
        ) >= len(poisoned)

    conf = {"file.path": str(data / "*.log"), "test.dir": str(seen_dir), "file.offsets.commit.period.ms": 100}
    run_killing(T.PoisonLines, conf, victim="lines", done=done, kills=0)
    assert set(read_seen(str(seen_dir))) == {str(n) for n in range(2000) if n % 100}
    errors = read_seen(str(seen_dir / "errors"))
    assert len(errors) == len(poisoned)
    reasons = dict(e.split("\t", 1) for e in errors)
    assert all(src.startswith(str(data / "a.log") + "@") for src in reasons)
    assert any("Expecting value" in r for r in reasons.values())  # not JSON
    assert any("no field 'id'" in r for r in reasons.values())  # a missing field
    # the default offsets folder sits beside the input, and the poison lines were acknowledged too
    assert read_offsets(str(data / ".squall-offsets-lines")) == {str(data / "a.log"): (data / "a.log").stat().st_size}
