"""The status line ``squall run`` prints every few seconds: rates per component between two snapshots."""

from __future__ import annotations

from typing import TextIO

from squall.local.statistics import ComponentStats, TopologyStatistics


def _human(n: float) -> str:
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f}{unit}"
    return f"{n:.0f}"


def render(prev: TopologyStatistics | None, cur: TopologyStatistics) -> str:
    """One status line: per user component, its rate since ``prev`` (None: since the start)."""
    dt = max(cur.sampled - (prev.sampled if prev is not None else 0.0), 1e-6)
    before = prev.components if prev is not None else {}
    parts = []
    for c in cur.user_components():
        last = before.get(c.name)

        def rate(key: str, c: ComponentStats = c, last: ComponentStats | None = last) -> str:
            return _human((getattr(c, key) - (getattr(last, key) if last is not None else 0)) / dt)

        if c.kind == "spout":
            part = f"{c.name} emitted {rate('emitted')}/s"
            if c.acked or c.failed:
                failed = c.failed - (last.failed if last is not None else 0)
                part += f" acked {rate('acked')}/s failed {failed:,}"
            if c.complete_latency_ms is not None and c.complete_latency_ms.p99:
                part += f" p99 {c.complete_latency_ms.p99:.1f}ms"
            parts.append(part)
        else:
            parts.append(f"{c.name} executed {rate('executed')}/s")
    line = f"[squall {cur.uptime:6.1f}s] " + " | ".join(parts) + f" | queued {cur.queued:,} | errors {cur.error_count}"
    if cur.error_count and cur.errors:
        e = cur.errors[-1]
        line += f" (last: {e.component}:{e.task} {e.error[:80]})"
    if cur.malformed_total:
        line += f" | dropped {cur.malformed_total:,} malformed message(s)"
    if cur.refused_total:
        line += f" | refused {cur.refused_total:,} connection(s)"
    stale = [str(w.index) for w in cur.workers if w.stale]
    if stale:
        line += f" | no answer from worker(s) {', '.join(stale)}"
    return line


class StatusLine:
    """Prints a status line for each snapshot it is shown, with rates since the previous one."""

    def __init__(self, out: TextIO):
        self.out = out
        self.last: TopologyStatistics | None = None

    def print(self, snapshot: TopologyStatistics) -> None:
        print(render(self.last, snapshot), file=self.out, flush=True)
        self.last = snapshot
