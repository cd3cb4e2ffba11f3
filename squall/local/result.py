"""What a finished run reports: how it ended and the final counters (``RunResult``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunResult:
    """How a run ended, with the final counters."""

    reason: str  # completed | stopped | error | timeout
    exit_code: int
    elapsed: float
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: component -> stream -> emitted values; filled by ``squall.testing`` from the hook reports
    captured: dict[str, dict[str, list[tuple[Any, ...]]]] = field(default_factory=dict)
    workers: dict[int, dict[str, Any]] = field(default_factory=dict)
    message: str = ""
    #: what each worker's hooks reported when it stopped (``WorkerHooks.report``), in arrival order
    hook_reports: list[Any] = field(default_factory=list)

    def component_totals(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for st in self.tasks.values():
            c = out[st["component"]]
            c["emitted"] += sum(st.get("emitted", {}).values())
            c["executed"] += st.get("executed", 0)
            c["errors"] += st.get("errors", 0)
            c["acked"] += st.get("acked", 0)
            c["failed"] += st.get("failed", 0)
        return {k: dict(v) for k, v in out.items()}
