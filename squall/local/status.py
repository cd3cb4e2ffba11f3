"""The status line ``squall run`` prints every few seconds: rates per component from counters."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any, TextIO


def _human(n: float) -> str:
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f}{unit}"
    return f"{n:.0f}"


class StatusLine:
    """Rates per component from cumulative counters, printed every interval."""

    def __init__(self, out: TextIO):
        self.out = out
        self.last: dict[str, dict[str, Any]] = {}  # the totals printed last, per component
        self.last_time = time.monotonic()
        self.start = self.last_time

    def print(
        self,
        tasks: dict[int, dict[str, Any]],
        queued: int,
        errors: int,
        kinds: dict[str, str],
        last_error: dict[str, Any] | None = None,
    ) -> None:
        now = time.monotonic()
        dt = max(now - self.last_time, 1e-6)
        totals: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
        for st in tasks.values():
            t = totals[st["component"]]
            t["emitted"] += sum(st.get("emitted", {}).values())
            t["executed"] += st.get("executed", 0)
            t["acked"] += st.get("acked", 0)
            t["failed"] += st.get("failed", 0)
            lat = st.get("complete_latency_ms")
            if lat:
                t["p99"] = max(t["p99"], lat["p99"])
        parts = []
        for comp in sorted(totals, key=lambda c: (kinds.get(c) != "spout", c)):
            if comp.startswith("__"):
                continue  # system components (ackers) are not the user's
            t = totals[comp]
            last = self.last.get(comp, {})
            if kinds.get(comp) == "spout":
                part = f"{comp} emitted {_human((t['emitted'] - last.get('emitted', 0)) / dt)}/s"
                if t["acked"] or t["failed"]:
                    part += (
                        f" acked {_human((t['acked'] - last.get('acked', 0)) / dt)}/s"
                        f" failed {t['failed'] - last.get('failed', 0):,}"
                    )
                if t["p99"]:
                    part += f" p99 {t['p99']:.1f}ms"
                parts.append(part)
            else:
                parts.append(f"{comp} executed {_human((t['executed'] - last.get('executed', 0)) / dt)}/s")
            self.last[comp] = dict(t)
        self.last_time = now
        line = f"[squall {now - self.start:6.1f}s] " + " | ".join(parts) + f" | queued {queued:,} | errors {errors}"
        if errors and last_error:
            line += f" (last: {last_error['component']}:{last_error['task']} {last_error['error'][:80]})"
        print(line, file=self.out, flush=True)
