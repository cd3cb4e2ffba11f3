"""streamparse projects run unmodified, in-process (their components inside Squall's workers).

The projects in tests/streamparse_projects are laid out as `sparse quickstart` lays them out
(config.json, topologies/, src/): the seed article's word count verbatim, and a topology with named
streams, direct grouping, a ReliableSpout replaying, tick tuples, a BatchingBolt and a
TicklessBatchingBolt.
"""

from collections import Counter
from pathlib import Path

from squall.testing import complete_topology, read_tuples

PROJECTS = Path(__file__).resolve().parent.parent / "streamparse_projects"
WORDCOUNT = PROJECTS / "wordcount" / "topologies" / "wordcount.py"
RICH = PROJECTS / "rich" / "topologies" / "rich.py"
N = 400  # tests/streamparse_projects/rich/src/showcase/spouts.py


def test_seed_wordcount_counts_exactly(workers):
    """par=2 and fields grouping: every word's count lives in one task; a dog counts 10."""
    words = ["dog", "cat", "zebra", "elephant"] * 250 + ["dog"] * 7
    res = complete_topology(str(WORDCOUNT), {"word_spout": [[w] for w in words]}, workers=workers, strict=True)
    out = read_tuples(res, "count_bolt")
    assert len(out) == len(words)
    final: dict[str, int] = {}
    tasks: dict[str, set[int]] = {}
    for word, count in out:
        final[word] = max(final.get(word, 0), count)
    assert final == {"dog": 10 * 257, "cat": 250, "zebra": 250, "elephant": 250}
    # counts rise by 10 for dog and by 1 otherwise, in one task per word (the fields grouping)
    for word, step in (("dog", 10), ("cat", 1)):
        assert sorted(c for w, c in out if w == word) == list(range(step, final[word] + 1, step))
    bolts = [st for st in res.tasks.values() if st["component"] == "count_bolt"]
    assert len(bolts) == 2 and sum(st["executed"] for st in bolts) == len(words)
    del tasks


def test_rich_streamparse_topology(workers):
    res = complete_topology(str(RICH), workers=workers, timeout=90)
    # named streams: every number once on its parity's stream (a failed first delivery emitted nothing)
    assert sorted(n for (n,) in read_tuples(res, "router", "even")) == list(range(0, N, 2))
    assert sorted(n for n, parity in read_tuples(res, "router", "odd")) == list(range(1, N, 2))
    # direct grouping: each number reached the task the router chose
    direct = read_tuples(res, "direct_sink")
    assert sorted(n for n, _, _ in direct) == list(range(N))
    assert all(target == task for _, target, task in direct)
    assert len({task for _, _, task in direct}) == 3
    # ReliableSpout: the first delivery of every tenth number failed, pystorm's spout replayed it
    numbers = next(st for st in res.tasks.values() if st["component"] == "numbers")
    assert numbers["failed"] == N // 10 and numbers["acked"] == N
    assert Counter(n for (n,) in read_tuples(res, "numbers")) == Counter({n: 2 if n % 10 == 0 else 1 for n in range(N)})
    errors = Counter(e["error"] for e in res.errors)
    assert errors == Counter({f"ValueError: first delivery of {n}": 1 for n in range(0, N, 10)}) + Counter(
        {"RuntimeError: reported, not raised": 1}
    )
    assert [e["where"] for e in res.errors if e["error"].startswith("RuntimeError")] == ["raise_exception"]
    # tick tuples: process_tick ran on both tasks of `evens`, its counts rising
    ticks: dict[int, list[int]] = {}
    for task, n in read_tuples(res, "evens", "ticks"):
        ticks.setdefault(task, []).append(n)
    assert len(ticks) == 2 and all(v == list(range(1, len(v) + 1)) for v in ticks.values())
    # BatchingBolt: batches on ticks (and the rest when the run drained), every odd number once
    batches = read_tuples(res, "batcher")
    assert len(batches) >= 2
    assert sum(size for size, _ in batches) == N // 2 and sum(t for _, t in batches) == sum(range(1, N, 2))
    # TicklessBatchingBolt: batches every secs_between_batches, without a thread of its own
    tickless = read_tuples(res, "tickless")
    assert len(tickless) >= 2 and sum(size for (size,) in tickless) == N // 2


def test_squall_run_streamparse_project(squall_cli):
    p = squall_cli("run", WORDCOUNT, "--duration", "3", "--workers", "2", "--no-ui")
    code, _out, err = p.finish(timeout=60)
    assert code == 0, err[-2000:]
    assert "starting topology WordCount" in err
    line = next(ln for ln in err.splitlines() if "word_spout: emitted" in ln)
    emitted = int(line.split("word_spout: emitted ")[1].split()[0].replace(",", ""))
    assert emitted > 10_000
    assert f"count_bolt: emitted {emitted:,} executed {emitted:,}" in line
    assert "counted [" in err and "error" not in line


def test_squall_describe_and_visualize_streamparse_project(squall_cli):
    code, out, err = squall_cli("describe", WORDCOUNT).finish(timeout=60)
    assert code == 0, err
    assert '"class": "bolts.wordcount.WordCountBolt"' in out and '"par": 2' in out
    code, out, err = squall_cli("visualize", WORDCOUNT).finish(timeout=60)
    assert code == 0, err
    assert "word_spout" in out and "count_bolt" in out


def test_java_spout_refused_by_squall_run(tmp_path, squall_cli):
    topo = tmp_path / "topologies" / "kafka.py"
    topo.parent.mkdir()
    topo.write_text(
        "from streamparse import Bolt, JavaSpout, Topology\n"
        "class Count(Bolt):\n    outputs = ['n']\n"
        "class Kafka(Topology):\n"
        "    kafka_spout = JavaSpout.spec(full_class_name='org.apache.storm.kafka.spout.KafkaSpout',\n"
        "                                 args_list=[], outputs=['message'])\n"
        "    count = Count.spec(inputs=[kafka_spout])\n"
    )
    code, _out, err = squall_cli("run", topo, "--duration", "2").finish(timeout=30)
    assert code == 2
    assert "component 'kafka_spout': is a JavaSpout (org.apache.storm.kafka.spout.KafkaSpout)" in err
    assert "Squall runs no JVM" in err and "write it in Python" in err
    assert "starting topology" not in err


def test_import_error_in_streamparse_topology(tmp_path, squall_cli):
    topo = tmp_path / "topologies" / "wc.py"
    topo.parent.mkdir()
    (tmp_path / "src").mkdir()
    topo.write_text("from streamparse import Grouping, Topology\nfrom bolts.wordcount import WordCountBolt\n")
    code, _out, err = squall_cli("run", topo, "--duration", "2").finish(timeout=30)
    assert code == 2
    assert f"cannot load {topo}" in err and "line 2" in err and "No module named 'bolts'" in err


def test_print_in_a_component_corrupts_nothing(squall_cli):
    """RouterBolt prints "end" and a JSON emit line: in worker processes they are output lines, nothing else."""
    code, out, err = squall_cli("run", RICH, "--workers", "2", "--no-ui").finish(timeout=90)
    assert code == 0, err[-3000:]
    assert "completed after" in err
    printed = out.splitlines() + err.splitlines()
    assert "end" in printed and '{"command": "emit", "tuple": ["junk"]}' in printed  # shown as printed
    assert "direct_sink: emitted 400 executed 400" in err


def test_streamparse_shell_bolt_runs_as_multilang_subprocess(workers):
    """streamparse's ShellBolt.spec(command, script): Squall's multilang ShellBolt, its script found
    in the project's src/ (what streamparse ships as Storm's resources/), between in-process components."""
    topo = PROJECTS / "multilang" / "topologies" / "multilang.py"
    res = complete_topology(str(topo), workers=workers, timeout=90, strict=True)
    sentences = [
        "the cow jumped over the moon",
        "an apple a day keeps the doctor away",
        "four score and seven years ago",
        "snow white and the seven dwarfs",
        "i am at two with nature",
    ]
    expected = Counter(w for i in range(300) for w in sentences[i % 5].split())
    final: dict[str, int] = {}
    for word, count in read_tuples(res, "count"):
        final[word] = max(final.get(word, 0), count)
    assert final == dict(expected)
    spout = next(st for st in res.tasks.values() if st["component"] == "sentences")
    assert spout["acked"] == 300 and spout["failed"] == 0


def test_seed_wordcount_in_multilang_mode(workers, monkeypatch):
    """squall.streamparse.mode=multilang ($SQUALL_STREAMPARSE_MODE): the same unmodified components as
    `python -m streamparse.run` subprocesses, as Storm runs them; the same exact counts."""
    monkeypatch.setenv("SQUALL_STREAMPARSE_MODE", "multilang")
    words = ["dog", "cat", "zebra", "elephant"] * 50
    res = complete_topology(str(WORDCOUNT), {"word_spout": [[w] for w in words]}, workers=workers, timeout=90)
    final: dict[str, int] = {}
    for word, count in read_tuples(res, "count_bolt"):
        final[word] = max(final.get(word, 0), count)
    assert final == {"dog": 500, "cat": 50, "zebra": 50, "elephant": 50}
    from squall.compat.loader import load_topology

    comp = load_topology(str(WORDCOUNT)).components["count_bolt"]
    assert comp.cls.argv()[1:] == ["-m", "streamparse.run", "bolts.wordcount.WordCountBolt"]
    assert comp.cls.cwd == str(PROJECTS / "wordcount" / "src")
