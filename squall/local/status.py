"""What ``squall run`` prints about a run, from statistics snapshots: the status line every few
seconds (rates between two snapshots, with running totals) and the final summary.

Both go to stderr, with the logs, so that redirecting one stream never separates them. Components
are listed in one order everywhere: spouts first, then bolts, each in topology order
(``TopologyStatistics.user_components``); ackers are left out. Numbers carry thousands separators.
"""

from __future__ import annotations

from typing import TextIO

from squall.local.statistics import ComponentStats, RunState, TopologyStatistics


def human(n: float) -> str:
    """A count or rate, short: ``871``, ``612.3k``, ``3.1M``, ``1,204.5M``."""
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:,.1f}{unit}"
    return f"{n:,.0f}"


def _component(c: ComponentStats, last: ComponentStats | None, dt: float) -> str:
    def counter(key: str) -> str:
        total = getattr(c, key)
        rate = (total - (getattr(last, key) if last is not None else 0)) / dt
        return f"{human(rate)}/s ({human(total)})"

    if c.kind != "spout":
        return f"{c.name} executed {counter('executed')}"
    part = f"{c.name} emitted {counter('emitted')}"
    if c.acked or c.failed:
        part += f" acked {counter('acked')} failed {c.failed:,}"
    if c.complete_latency_ms is not None and c.complete_latency_ms.p99:
        part += f" p99 {c.complete_latency_ms.p99:,.1f}ms"
    return part


def render(prev: TopologyStatistics | None, cur: TopologyStatistics) -> str:
    """One status line: per user component its rate since ``prev`` (None: since the start) and its total."""
    dt = max(cur.sampled - (prev.sampled if prev is not None else 0.0), 1e-6)
    before = prev.components if prev is not None else {}
    parts = [_component(c, before.get(c.name), dt) for c in cur.user_components()]
    line = (
        f"[squall {cur.uptime:7,.1f}s] " + " | ".join(parts) + f" | queued {cur.queued:,} | errors {cur.error_count:,}"
    )
    if cur.error_count and cur.errors:
        e = cur.errors[-1]
        line += f" (last: {e.component}:{e.task} {e.error[:80]})"
    silent = [w for w in cur.workers if w.silent_secs]
    for w in silent:
        line += f" | worker {w.index} unresponsive for {w.silent_secs:.0f} s"
    if cur.malformed_total:
        line += f" | dropped {cur.malformed_total:,} malformed message(s)"
    if cur.refused_total:
        line += f" | refused {cur.refused_total:,} connection(s)"
    stale = [str(w.index) for w in cur.workers if w.stale and not w.silent_secs]
    if stale:
        line += f" | no answer from worker(s) {', '.join(stale)}"
    return line


def summary(snap: TopologyStatistics) -> list[str]:
    """The lines ``squall run`` ends with: how the run ended with each component's totals, then, for a
    run that was stopped, what was still in flight (queued tuples, pending spout trees)."""
    parts = []
    for c in snap.user_components():
        text = f"{c.name}: emitted {c.emitted:,}"
        if c.kind == "spout":
            if c.acked or c.failed:
                text += f" acked {c.acked:,} failed {c.failed:,}"
        else:
            text += f" executed {c.executed:,}"
        if c.errors:
            text += f" errors {c.errors:,}"
        parts.append(text)
    summary = " | ".join(parts)
    if snap.message:  # what failed, in one line (the coordinator logged the details once)
        ran = any(c.emitted or c.executed for c in snap.user_components())
        summary = snap.message.splitlines()[0] + (f"; {summary}" if ran else "")
    lines = [f"[squall] {snap.outcome or snap.state.value} after {snap.uptime:,.1f}s: {summary}"]
    if snap.state is RunState.COMPLETED:
        return lines  # nothing is in flight when a run completes
    pending = [(c.name, c.pending) for c in snap.user_components() if c.kind == "spout" and c.pending]
    left = []
    if snap.queued:
        left.append(f"{snap.queued:,} tuple(s) queued in the workers")
    if pending:
        trees = ", ".join(f"{name} {n:,}" for name, n in pending)
        left.append(f"{sum(n for _, n in pending):,} tuple tree(s) pending at spouts ({trees}), never acked")
    if snap.drain_timed_out:
        lines.append(
            "[squall] the drain timed out (squall.drain.timeout.secs): "
            + ("dropped at the stop: " + "; ".join(left) if left else "stopped with tuples in flight")
        )
    elif left:
        lines.append("[squall] dropped at the stop: " + "; ".join(left))
    elif snap.state is RunState.STOPPED:
        lines.append("[squall] nothing was in flight at the stop")
    return lines


class StatusLine:
    """Prints a status line for each snapshot it is shown, with rates since the previous one."""

    def __init__(self, out: TextIO):
        self.out = out
        self.last: TopologyStatistics | None = None

    def print(self, snapshot: TopologyStatistics) -> None:
        print(render(self.last, snapshot), file=self.out, flush=True)
        self.last = snapshot
