"""``GET /metrics``: the run's statistics in Prometheus' text format, through ``prometheus_client``.

A custom collector reads the latest snapshot at each scrape (nothing is counted twice and nothing
runs between scrapes): per task (labels ``topology``, ``component``, ``task``, ``worker``) the
counters as ``*_total``, the cumulative latency sums and counts (so PromQL can take ``rate(sum) /
rate(count)`` over any range) and, as gauges, the latencies and capacity over the last 60 s; per
worker its RSS and restarts; per run ``squall_up`` (1 until the run ends) and ``squall_state``
(1 for the current run state). Each app has its own ``CollectorRegistry``: nothing global.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from squall.local.statistics import RunState
from squall.ui.api import RunView
from squall.ui.history import WindowStats

TASK_LABELS = ["topology", "component", "task", "worker"]
WORKER_LABELS = ["topology", "worker"]

_TASK_COUNTERS = (
    ("emitted", "Tuples emitted"),
    ("transferred", "Tuples transferred to other tasks"),
    ("executed", "Tuples executed (bolts)"),
    ("acked", "Tuples acked (spouts: trees completed; bolts: tuples acked)"),
    ("failed", "Tuples failed"),
    ("errors", "Errors raised by user code"),
)
_TASK_SUMS = (
    ("execute_ms", "Milliseconds spent in process() (bolts)"),
    ("process_ms", "Sum of sampled process latencies, ms (bolts: receipt to ack)"),
    ("process_count", "Process latencies sampled (bolts)"),
    ("complete_ms", "Sum of sampled complete latencies, ms (spouts: emit to tree completion)"),
    ("complete_count", "Complete latencies sampled (spouts)"),
)
_GAUGE_WINDOW = 60.0


class RunCollector(Collector):
    """Reads a ``RunView`` at every scrape."""

    def __init__(self, view: RunView):
        self.view = view

    def collect(self) -> Iterator[Metric]:
        view = self.view
        snap = view.snapshot()
        win = view.history.window(_GAUGE_WINDOW)
        topo = view.name
        counters = {
            k: CounterMetricFamily(f"squall_{k}", f"{doc} (over the run)", labels=TASK_LABELS)
            for k, doc in _TASK_COUNTERS + _TASK_SUMS
        }
        gauges = {
            "execute_latency_ms": GaugeMetricFamily(
                "squall_execute_latency_ms", "Execute latency over the last 60 s, ms (bolts)", labels=TASK_LABELS
            ),
            "process_latency_ms": GaugeMetricFamily(
                "squall_process_latency_ms", "Process latency over the last 60 s, ms (bolts)", labels=TASK_LABELS
            ),
            "complete_latency_ms": GaugeMetricFamily(
                "squall_complete_latency_ms", "Complete latency over the last 60 s, ms (spouts)", labels=TASK_LABELS
            ),
            "capacity": GaugeMetricFamily(
                "squall_capacity",
                "Share of the last 60 s spent executing (bolts; near 1: the bottleneck)",
                labels=TASK_LABELS,
            ),
        }
        pending = GaugeMetricFamily("squall_pending", "Trees in flight (spouts)", labels=TASK_LABELS)
        for t, ts in sorted(snap.tasks.items()):
            labels = [topo, ts.component, str(t), str(ts.worker)]
            for k, fam in counters.items():
                value = getattr(ts, k, 0)
                fam.add_metric(labels, float(value) if isinstance(value, (int, float)) else 0.0)
            w = win.tasks.get(t) if win is not None else None
            w = w or WindowStats(secs=0.0)
            for k, gauge in gauges.items():
                gauge.add_metric(labels, float(getattr(w, k)))
            if ts.kind == "spout":
                pending.add_metric(labels, float(ts.pending))
        yield from counters.values()
        yield from gauges.values()
        yield pending

        rss = GaugeMetricFamily("squall_worker_rss_bytes", "Worker resident set size", labels=WORKER_LABELS)
        peak = GaugeMetricFamily("squall_worker_peak_rss_bytes", "Worker peak resident set", labels=WORKER_LABELS)
        restarts = CounterMetricFamily("squall_worker_restarts", "Worker process restarts", labels=WORKER_LABELS)
        alive = GaugeMetricFamily("squall_worker_alive", "1 while the worker process runs", labels=WORKER_LABELS)
        for ws in snap.workers:
            labels = [topo, str(ws.index)]
            if ws.rss is not None:
                rss.add_metric(labels, float(ws.rss))
            if ws.peak_rss is not None:
                peak.add_metric(labels, float(ws.peak_rss))
            restarts.add_metric(labels, float(ws.restarts))
            alive.add_metric(labels, 1.0 if ws.alive else 0.0)
        yield from (rss, peak, restarts, alive)

        up = GaugeMetricFamily("squall_up", "1 until the run has ended", labels=["topology"])
        up.add_metric([topo], 0.0 if snap.state.final else 1.0)
        state = GaugeMetricFamily("squall_state", "1 for the run's current state", labels=["topology", "state"])
        for s in RunState:
            state.add_metric([topo, s.value], 1.0 if s is snap.state else 0.0)
        uptime = GaugeMetricFamily("squall_uptime_seconds", "Seconds since the run started", labels=["topology"])
        uptime.add_metric([topo], view.uptime())
        errors = CounterMetricFamily("squall_run_errors", "Errors reported in the run", labels=["topology"])
        errors.add_metric([topo], float(snap.error_count))
        dropped = CounterMetricFamily(
            "squall_dropped_malformed", "Malformed messages dropped (workers and coordinator)", labels=["topology"]
        )
        dropped.add_metric([topo], float(snap.malformed_total))
        yield from (up, state, uptime, errors, dropped)


def registry_for(view: RunView) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunCollector(view))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
