"""End-to-end: real topologies, in-process and on real worker processes, exact outputs."""

from collections import Counter, defaultdict

import topologies as T

from squall.testing import complete_topology, multiset, read_tuples
from squall.topology.plan import make_plan

N = T.N


def by_value(rows):
    out = defaultdict(set)
    for value, _comp, task, _pid in rows:
        out[value].add(task)
    return out


def tasks_of(topo, component, workers):
    return make_plan(topo.components, workers).component_tasks[component]


def test_shuffle_even_split(workers):
    res = complete_topology(T.ShuffleTopo, workers=workers)
    rows = read_tuples(res, "tag")
    assert sorted(r[0] for r in rows) == list(range(N))
    per_task = Counter(r[2] for r in rows)
    assert sorted(per_task) == tasks_of(T.ShuffleTopo, "tag", workers)
    assert set(per_task.values()) == {N // 4}


def test_fields_same_word_same_task(workers):
    res = complete_topology(T.FieldsTopo, workers=workers)
    rows = read_tuples(res, "tag")
    assert len(rows) == N
    groups = by_value(rows)
    assert set(groups) == set(T.WordSpout.WORDS)
    assert all(len(tasks) == 1 for tasks in groups.values())
    assert len({next(iter(t)) for t in groups.values()}) > 1  # spread over several tasks


def test_all_grouping_replicates(workers):
    res = complete_topology(T.AllTopo, workers=workers)
    rows = read_tuples(res, "tag")
    assert len(rows) == 3 * N
    assert all(tasks == set(tasks_of(T.AllTopo, "tag", workers)) for tasks in by_value(rows).values())


def test_global_grouping_lowest_task(workers):
    res = complete_topology(T.GlobalTopo, workers=workers)
    rows = read_tuples(res, "tag")
    assert sorted(r[0] for r in rows) == list(range(N))
    assert {r[2] for r in rows} == {min(tasks_of(T.GlobalTopo, "tag", workers))}


def test_none_grouping(workers):
    res = complete_topology(T.NoneTopo, workers=workers)
    assert sorted(r[0] for r in read_tuples(res, "tag")) == list(range(N))


def test_local_or_shuffle_prefers_local(workers):
    res = complete_topology(T.LocalOrShuffleTopo, workers=workers)
    rows = read_tuples(res, "tag")
    assert sorted(r[0] for r in rows) == list(range(N))
    if workers == 2:
        # numbers tasks 1,2 and tag tasks 3,4 are dealt round-robin: 1,3 in worker 0; 2,4 in worker 1.
        assert {r[2] for r in rows if r[0] % 2 == 0} == {3}
        assert {r[2] for r in rows if r[0] % 2 == 1} == {4}
    else:
        assert {r[2] for r in rows} == {3, 4}


def test_partial_key_at_most_two_tasks(workers):
    res = complete_topology(T.PartialKeyTopo, workers=workers)
    rows = read_tuples(res, "tag")
    assert len(rows) == N
    assert all(1 <= len(tasks) <= 2 for tasks in by_value(rows).values())


def test_custom_grouping(workers):
    res = complete_topology(T.CustomTopo, workers=workers)
    rows = read_tuples(res, "tag")
    targets = sorted(tasks_of(T.CustomTopo, "tag", workers))
    assert len(rows) == N
    assert all(task == targets[value % 3] for value, _c, task, _p in rows)


def test_named_streams(workers):
    res = complete_topology(T.NamedStreamsTopo, workers=workers)
    assert sorted(v for (v,) in read_tuples(res, "split", "even")) == list(range(0, N, 2))
    assert sorted(v for (v,) in read_tuples(res, "split", "odd")) == list(range(1, N, 2))
    assert multiset(read_tuples(res, "evens")) == multiset((n, "split") for n in range(0, N, 2))
    assert multiset(read_tuples(res, "odds")) == multiset((n, "split") for n in range(1, N, 2))


def test_direct_stream(workers):
    res = complete_topology(T.DirectTopo, workers=workers)
    rows = read_tuples(res, "direct_sink")
    targets = sorted(tasks_of(T.DirectTopo, "direct_sink", workers))
    assert len(rows) == N
    assert all(task == targets[value % 3] for value, _c, task, _p in rows)


def test_multiple_spouts(workers):
    res = complete_topology(T.MultiSpoutTopo, workers=workers)
    sink = read_tuples(res, "sink")
    assert Counter(src for _v, src in sink) == {"numbers": N, "words": N}
    assert sorted(v for v, _s in read_tuples(res, "sink_numbers")) == list(range(N))


def test_diamond(workers):
    res = complete_topology(T.DiamondTopo, workers=workers)
    join = read_tuples(res, "join")
    assert multiset(join) == multiset([(n, "left") for n in range(N)] + [(n, "right") for n in range(N)])


def test_par_greater_than_workers(workers):
    res = complete_topology(T.ParGtWorkersTopo, workers=workers)
    counts = read_tuples(res, "count")
    assert len(counts) == N
    final = defaultdict(int)
    for word, c in counts:
        final[word] = max(final[word], c)
    expected = (
        Counter(T.WordSpout.WORDS[i % 8] for i in range(0, N, 3))
        + Counter(T.WordSpout.WORDS[i % 8] for i in range(1, N, 3))
        + Counter(T.WordSpout.WORDS[i % 8] for i in range(2, N, 3))
    )
    assert dict(final) == dict(expected)  # one task saw every occurrence of a word
    assert len([t for t in res.tasks.values() if t["component"] != "__acker"]) == 3 + 7


def test_mocked_sources(workers):
    res = complete_topology(T.FieldsTopo, {"words": [["a"], ["b"], ["a"]]}, workers=workers)
    assert sorted(r[0] for r in read_tuples(res, "tag")) == ["a", "a", "b"]


def test_bolt_exception_fails_tuple_and_goes_on(workers):
    res = complete_topology(T.FailingTopo, workers=workers)
    assert sorted(v for (v,) in read_tuples(res, "fails")) == [n for n in range(N) if n % 10]
    stats = [st for st in res.tasks.values() if st["component"] == "fails"]
    assert sum(st["errors"] for st in stats) == N // 10
    assert sum(st["failed"] for st in stats) == N // 10
    assert sum(st["executed"] for st in stats) == N
    assert res.errors and "RuntimeError: boom on" in res.errors[0]["error"]
    assert res.errors[0]["component"] == "fails" and "Traceback" in res.errors[0]["traceback"]


def test_emit_wrong_arity_names_component_and_stream(workers):
    res = complete_topology(T.BadArityTopo, workers=workers)
    assert read_tuples(res, "bad") == []
    err = res.errors[0]["error"]
    assert "EmitError" in err and "'bad'" in err and "'default'" in err and "['a', 'b']" in err


def test_batching_bolt_and_ticks(workers):
    res = complete_topology(T.BatchTopo, workers=workers)
    out = read_tuples(res, "batch")
    totals = defaultdict(int)
    sizes = 0
    for parity, total, size in out:
        totals[parity] += total
        sizes += size
    assert sizes == N
    assert dict(totals) == {0: sum(range(0, N, 2)), 1: sum(range(1, N, 2))}


def test_tick_tuples_global_and_per_component(workers):
    from squall.testing import run_topology

    res = run_topology(T.TickTopo, workers=workers, capture=True, duration=1.5)
    slow = read_tuples(res, "ticks")
    fast = read_tuples(res, "fast_ticks")
    assert set(slow) == {(0.1,)} and set(fast) == {(0.05,)}
    assert 5 <= len(slow) <= 16 and len(fast) >= 1.5 * len(slow)


def test_emit_on_undeclared_stream_names_component_and_stream(workers):
    res = complete_topology(T.WrongStreamTopo, workers=workers)
    err = res.errors[0]["error"]
    assert "EmitError" in err and "'wrong'" in err and "'nope'" in err and "declared: ['default']" in err


def test_direct_emit_to_a_task_that_does_not_consume(workers):
    res = complete_topology(T.BadDirectTopo, workers=workers)
    err = res.errors[0]["error"]
    sinks = tasks_of(T.BadDirectTopo, "sink", workers)
    assert "'router'" in err and "'routed'" in err and "task 999" in err and str(sorted(sinks)) in err


def test_spout_errors_are_reported_and_the_spout_goes_on(workers):
    res = complete_topology(T.FlakySpoutTopo, workers=workers)
    assert sorted(r[0] for r in read_tuples(res, "tag")) == list(range(N))  # nothing lost
    spout = next(st for st in res.tasks.values() if st["component"] == "numbers")
    # every 100th next_tuple call raised: N emits take N + N // 100 calls, the next one ends the source
    assert spout["errors"] == N // 100
    assert [(e["error"], e["where"]) for e in res.errors] == [("OSError: source hiccup", "next_tuple")] * (N // 100)


def test_need_task_ids_returns_the_receiving_task(workers):
    res = complete_topology(T.TaskIdsTopo, workers=workers)
    got = {n: tasks for n, tasks in read_tuples(res, "ids", "ids")}
    seen = {value: task for value, _c, task, _p in read_tuples(res, "sink")}
    assert len(got) == N and all(list(got[n]) == [seen[n]] for n in range(N))
