"""The README's examples do what the README says."""

import sys
from pathlib import Path

from squall.testing import complete_topology, read_tuples

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "wordcount"))
from topology import WordCount


def test_readme_testing_example():
    result = complete_topology(WordCount, mocked_sources={"word_spout": [["dog"], ["cat"], ["dog"]]})
    assert sorted(read_tuples(result, "count_bolt")) == [("cat", 1), ("dog", 10), ("dog", 20)]


def test_wordcount_on_two_workers_counts_exactly():
    words = [["dog"], ["cat"], ["zebra"], ["elephant"]] * 500
    result = complete_topology(WordCount, mocked_sources={"word_spout": words}, workers=2)
    final = {}
    for word, count in read_tuples(result, "count_bolt"):
        final[word] = max(final.get(word, 0), count)
    assert final == {"dog": 5000, "cat": 500, "zebra": 500, "elephant": 500}


def test_reliable_wordcount_example_counts_exactly(workers):
    from collections import Counter

    from squall.topology.loader import load_topology

    topo = load_topology(str(Path(__file__).resolve().parents[2] / "examples" / "reliable_wordcount" / "topology.py"))
    sentences = sys.modules[topo.__module__].SENTENCES
    result = complete_topology(topo, workers=workers)
    expected = Counter(w for s in sentences for w in s.split())
    final = {}
    for word, count in read_tuples(result, "count"):
        final[word] = max(final.get(word, 0), count)
    assert final == dict(expected)
    spout = next(t for t in result.tasks.values() if t["component"] == "sentences")
    storms = sum("storm" in s for s in sentences)
    assert spout["acked"] == len(sentences) and spout["failed"] == storms


def test_io_bound_example_runs_its_calls_concurrently():
    """examples/io_bound: 400 users through an async bolt and a threaded one (50 ms calls each) on
    2 workers, every tree acked; one call at a time per worker would take 20 s."""
    from squall.topology.loader import load_topology

    topo = load_topology(str(Path(__file__).resolve().parents[2] / "examples" / "io_bound" / "topology.py"))
    result = complete_topology(topo, workers=2)
    assert sorted(u for (u, _stored) in read_tuples(result, "store")) == list(range(400))
    spout = next(t for t in result.tasks.values() if t["component"] == "users")
    assert (spout["acked"], spout["failed"]) == (400, 0)
    assert result.elapsed < 12
