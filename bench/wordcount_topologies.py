"""Topologies of the word-count benchmark (``bench/wordcount.py``).

Worker processes import this module by reference (``wordcount_topologies:<name>``), so every
class lives at module level and every parameter travels in the topology conf:

    bench.words          total words N (all spout tasks together)
    bench.seed           seed of the deterministic generator
    bench.zipf           Zipf exponent of the word distribution over w0..w9999
    bench.sample_every   1 latency sample every this many words (words) / sentences (sentences)
    bench.rate           words/s for all spout tasks together (only the *_rated topologies read it)
    bench.acking         spouts emit with a tup_id, so every tuple tree is tracked by the ackers
    bench.out_dir        where each spout and count task writes its report (JSON) when its
                         process exits; unset = no report (the bench's plain loop)

Each spout task generates its share of the words in ``initialize`` (before activation, so
before the clock starts) from ``bench.seed`` and its index among the spout's tasks; the bench
regenerates the same shares with ``make_share`` to build the expected ``collections.Counter``.

Latency samples travel on a second stream, ``sampled`` (fields + ``ts``, a CLOCK_MONOTONIC ns
stamp, which is system-wide on Linux so comparable across processes). The ``default`` stream
carries a plain 1-field tuple, so the hot path is exactly the word count. Sampled words are real
words: they are counted too, so the final count check covers both streams.

Reporting: bolts have no close hook, so each reporting task registers itself here and
``dump_all`` writes ``<out_dir>/<kind>-<task>.json``. Worker processes run it at exit (``atexit``:
``worker_process`` ends with ``sys.exit``), the in-process runner's caller calls it directly. A
killed worker writes nothing, and the bench then fails loudly.

Topology classes: ``<variant>_p<par>`` and ``<variant>_p<par>_rated`` for par 1..8, where
variant is ``sentences`` (spout -> split [LOCAL_OR_SHUFFLE] -> count [fields('word')]) or
``words`` (spout -> count [fields('word')]); par is the parallelism of every component.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import resource
import time
from collections import Counter
from itertools import accumulate
from typing import Any

from squall import Bolt, Grouping, Spout, Stream, Topology
from squall.local.statistics import peak_rss_bytes
from squall.topology.dsl import TopologyType

VOCAB_SIZE = 10_000
SENTENCE_WORDS = 10
monotonic_ns = time.monotonic_ns

# ---------------------------------------------------------------------------------------------
# Deterministic data
# ---------------------------------------------------------------------------------------------

_VOCAB_T: tuple[tuple[str], ...] = tuple((f"w{i}",) for i in range(VOCAB_SIZE))
_CUM: dict[float, list[float]] = {}


def cum_weights(zipf: float) -> list[float]:
    cw = _CUM.get(zipf)
    if cw is None:
        cw = _CUM[zipf] = list(accumulate(1.0 / (i + 1) ** zipf for i in range(VOCAB_SIZE)))
    return cw


def share_bounds(total: int, parts: int, k: int) -> tuple[int, int]:
    return total * k // parts, total * (k + 1) // parts


def make_share(variant: str, words: int, seed: int, zipf: float, parts: int, k: int) -> list[tuple[str]]:
    """The items spout task ``k`` of ``parts`` emits, in order.

    words: 1-tuples ``(word,)`` (shared objects, one per vocabulary word: no per-word memory).
    sentences: 1-tuples ``(sentence,)``, each sentence 10 space-separated words; ``words`` is
    rounded down to a multiple of 10.
    """
    rng = random.Random(seed * 1_000_003 + k)
    cw = cum_weights(zipf)
    if variant == "words":
        lo, hi = share_bounds(words, parts, k)
        return rng.choices(_VOCAB_T, cum_weights=cw, k=hi - lo)
    if variant == "sentences":
        lo, hi = share_bounds(words // SENTENCE_WORDS, parts, k)
        vocab = [t[0] for t in _VOCAB_T]
        out: list[tuple[str]] = []
        chunk = 10_000  # sentences per choices() call: bounded temporary memory
        left = hi - lo
        while left > 0:
            n = min(chunk, left)
            ws = rng.choices(vocab, cum_weights=cw, k=n * SENTENCE_WORDS)
            out.extend((" ".join(ws[i : i + SENTENCE_WORDS]),) for i in range(0, len(ws), SENTENCE_WORDS))
            left -= n
        return out
    raise ValueError(f"unknown variant {variant!r}")


# ---------------------------------------------------------------------------------------------
# Reports written at process exit
# ---------------------------------------------------------------------------------------------

_REGISTRY: list[Any] = []


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _register(component: Any, conf: dict[str, Any], context: Any, kind: str) -> None:
    out_dir = conf.get("bench.out_dir")
    if not out_dir or context is None:
        return
    component._report_path = os.path.join(out_dir, f"{kind}-{context.task_id}.json")
    _REGISTRY.append(component)
    _watch_gc()


# Garbage-collector pauses in this process: count, total and max per generation (a stall in the
# latency timeline that matches a long gen-2 pause is the collector, not the engine or the host).
GC_STATS: dict[str, list[float]] = {}
_gc_start = [0]


def _gc_callback(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_start[0] = time.perf_counter_ns()
        return
    d = time.perf_counter_ns() - _gc_start[0]
    st = GC_STATS.setdefault(str(info.get("generation")), [0, 0, 0])
    st[0] += 1
    st[1] += d
    if d > st[2]:
        st[2] = d


def _watch_gc() -> None:
    import gc

    if _gc_callback not in gc.callbacks:
        gc.callbacks.append(_gc_callback)


def dump_all() -> int:
    """Write every registered task's report; return how many were written."""
    n = 0
    while _REGISTRY:
        comp = _REGISTRY.pop(0)
        rep = comp.report()
        rep.update(
            pid=os.getpid(),
            cpu_exit=cpu_seconds(),
            peak_rss=peak_rss_bytes(),  # VmHWM: ru_maxrss carries the parent's peak over fork and exec
            gc={g: {"n": n, "total_ms": tot / 1e6, "max_ms": mx / 1e6} for g, (n, tot, mx) in GC_STATS.items()},
        )
        tmp = comp._report_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(rep, f)
        os.replace(tmp, comp._report_path)
        n += 1
    if n:
        GC_STATS.clear()  # the next in-process run starts afresh
    return n


atexit.register(dump_all)


# ---------------------------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------------------------


class _BenchSpout(Spout):
    variant = ""

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        tasks = context.component_tasks(context.component_id)
        k = tasks.index(context.task_id)
        self.items = make_share(
            self.variant,
            int(conf["bench.words"]),
            int(conf.get("bench.seed", 1)),
            float(conf.get("bench.zipf", 1.0)),
            len(tasks),
            k,
        )
        self.n = len(self.items)
        self.it = iter(self.items)
        self.every = max(1, int(conf.get("bench.sample_every", 1000)))
        self.left = self.every
        rate = conf.get("bench.rate")
        per_item = SENTENCE_WORDS if self.variant == "sentences" else 1
        # ns between two items of this task (open loop): the rate is for all spout tasks together
        self.period_ns = int(1e9 * per_item * len(tasks) / float(rate)) if rate else 0
        self.i = 0
        self.t0 = 0
        self.activate_ns = 0
        self.done_ns = 0
        self.cpu_activate = 0.0
        self.cpu_done = 0.0
        self.idle_calls = 0  # next_tuple calls with nothing due yet (rated spouts)
        self.sampled = 0
        self.reliable = bool(conf.get("bench.acking"))  # emit with a tup_id: every tree is tracked
        self.k = 0
        _register(self, conf, context, "spout")

    def activate(self) -> None:
        if not self.activate_ns:
            self.cpu_activate = cpu_seconds()
            self.activate_ns = self.t0 = monotonic_ns()

    def _exhausted(self) -> None:
        if not self.done_ns:
            self.done_ns = monotonic_ns()
            self.cpu_done = cpu_seconds()

    def report(self) -> dict[str, Any]:
        return {
            "kind": "spout",
            "task": self.task_id,
            "items": self.n,
            "activate_ns": self.activate_ns,
            "done_ns": self.done_ns,
            "cpu_activate": self.cpu_activate,
            "cpu_done": self.cpu_done,
            "sampled": self.sampled,
            "idle_calls": self.idle_calls,
        }


class WordSpout(_BenchSpout):
    """Emits its share of single words as fast as it is called; 1 in ``every`` goes to ``sampled``."""

    variant = "words"
    outputs = [Stream(["word"]), Stream(["word", "ts"], name="sampled")]

    def next_tuple(self) -> None:
        try:
            v = next(self.it)
        except StopIteration:
            self._exhausted()
            raise
        self.left -= 1
        if self.reliable:
            self.k += 1
            tup_id = self.k
        else:
            tup_id = None
        if self.left:
            self.emit(v, tup_id)
        else:
            self.left = self.every
            self.sampled += 1
            self.emit((v[0], monotonic_ns()), tup_id, stream="sampled")


class SentenceSpout(_BenchSpout):
    """Emits its share of 10-word sentences; 1 sentence in ``every`` goes to ``sampled``."""

    variant = "sentences"
    outputs = [Stream(["sentence"]), Stream(["sentence", "ts"], name="sampled")]
    next_tuple = WordSpout.next_tuple


class RatedWordSpout(WordSpout):
    """Open loop at ``bench.rate``: item i is due at activation + i * period; latency is measured
    from that scheduled time, so a spout that falls behind shows it in the latency."""

    def next_tuple(self) -> None:
        i = self.i
        if i >= self.n:
            self._exhausted()
            raise StopIteration
        due = self.t0 + i * self.period_ns
        if monotonic_ns() < due:
            self.idle_calls += 1
            return
        self.i = i + 1
        v = self.items[i]
        self.left -= 1
        tup_id = i + 1 if self.reliable else None
        if self.left:
            self.emit(v, tup_id)
        else:
            self.left = self.every
            self.sampled += 1
            self.emit((v[0], due), tup_id, stream="sampled")


class RatedSentenceSpout(SentenceSpout):
    next_tuple = RatedWordSpout.next_tuple


class SplitBolt(Bolt):
    outputs = [Stream(["word"]), Stream(["word", "ts"], name="sampled")]

    def process(self, tup: Any) -> None:
        v = tup.values
        emit = self.emit
        if len(v) == 1:
            for w in v[0].split():
                emit((w,))
        else:
            ts = v[1]
            for w in v[0].split():
                emit((w, ts), stream="sampled")


class CountBolt(Bolt):
    """Counts words in a Counter; emits nothing. Sampled words also record now - ts."""

    outputs: list[str] = []

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        self.counts: Counter[str] = Counter()
        self.lat_ns: list[int] = []
        self.at_ns: list[int] = []
        self.last_ns = 0
        _register(self, conf, context, "count")

    def process(self, tup: Any) -> None:
        v = tup.values
        self.counts[v[0]] += 1
        if len(v) != 1:
            now = monotonic_ns()
            self.lat_ns.append(now - v[1])
            self.at_ns.append(now)
            self.last_ns = now

    def report(self) -> dict[str, Any]:
        return {
            "kind": "count",
            "task": self.task_id,
            "counts": dict(self.counts),
            "lat_ns": self.lat_ns,
            "at_ns": self.at_ns,
            "last_ns": self.last_ns,
        }


# ---------------------------------------------------------------------------------------------
# Topologies: <variant>_p<par>[_rated], built at import so workers find them by name
# ---------------------------------------------------------------------------------------------

MAX_PAR = 8


def topology_name(variant: str, par: int, rated: bool) -> str:
    return f"{variant}_p{par}{'_rated' if rated else ''}"


def _make(variant: str, par: int, rated: bool) -> type:
    if variant == "words":
        spout = (RatedWordSpout if rated else WordSpout).spec(par=par)
        count = CountBolt.spec(
            inputs={spout: Grouping.fields("word"), spout["sampled"]: Grouping.fields("word")}, par=par
        )
        ns: dict[str, Any] = {"spout": spout, "count": count}
    else:
        spout = (RatedSentenceSpout if rated else SentenceSpout).spec(par=par)
        split = SplitBolt.spec(
            inputs={spout: Grouping.LOCAL_OR_SHUFFLE, spout["sampled"]: Grouping.LOCAL_OR_SHUFFLE}, par=par
        )
        count = CountBolt.spec(
            inputs={split: Grouping.fields("word"), split["sampled"]: Grouping.fields("word")}, par=par
        )
        ns = {"spout": spout, "split": split, "count": count}
    name = topology_name(variant, par, rated)
    ns.update({"__module__": __name__, "__qualname__": name})
    return TopologyType(name, (Topology,), ns)


for _variant in ("sentences", "words"):
    for _par in range(1, MAX_PAR + 1):
        for _rated in (False, True):
            _cls = _make(_variant, _par, _rated)
            globals()[_cls.__name__] = _cls


def get_topology(variant: str, par: int, rated: bool) -> type:
    if not 1 <= par <= MAX_PAR:
        raise ValueError(f"par must be 1..{MAX_PAR}")
    return globals()[topology_name(variant, par, rated)]
