"""What a finished run reports (``RunResult``): a view of its final statistics snapshot, and captured tuples."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from squall.local.statistics import RunState, TopologyStatistics

#: ``squall run``'s exit status per final state (README, "Exit codes"). 2 is the command line's:
#: an invalid topology, config or option, refused before anything starts.
EXIT_CODES = {RunState.COMPLETED: 0, RunState.STOPPED: 0, RunState.KILLED: 130, RunState.FAILED: 1}
#: ``squall run --fail-on-errors``: the run completed or stopped, but had ``problems()``.
EXIT_PROBLEMS = 3


@dataclass
class RunResult:
    """How a run ended, with the final counters: everything but ``captured`` is read from ``statistics``."""

    statistics: TopologyStatistics
    #: component -> stream -> emitted values; filled by ``squall.testing`` from the hook reports
    captured: dict[str, dict[str, list[tuple[Any, ...]]]] = field(default_factory=dict)
    #: what each worker's hooks reported when it stopped (``WorkerHooks.report``), in arrival order
    hook_reports: list[Any] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """completed | stopped | error | timeout | killed"""
        return self.statistics.outcome

    @property
    def state(self) -> RunState:
        return self.statistics.state

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.statistics.state, 1)

    def problems(self) -> list[str]:
        """What a CI run should not let pass (``--fail-on-errors``): errors (user code raised, a
        worker died), messages given up, a worker whose final counters never came, tuples left in
        flight by a stop whose drain timed out."""
        st = self.statistics
        out = []
        if st.error_count:
            out.append(f"{st.error_count:,} error(s)")
        if st.given_up:
            out.append(f"{st.given_up:,} message(s) given up")
        silent = [str(w.index) for w in st.workers if w.stale]
        if silent:
            out.append(f"no final counters from worker(s) {', '.join(silent)} (the counts may be short)")
        if st.drain_timed_out:
            held = st.in_flight()
            trees, replays = sum(held["pending"].values()), sum(held["replays"].values())
            if trees or replays or held["queued"]:
                out.append(
                    f"the drain timed out with {trees:,} tree(s) pending, {replays:,} waiting for a replay "
                    f"and {held['queued']:,} tuple(s) queued"
                )
        return out

    @property
    def elapsed(self) -> float:
        return self.statistics.uptime

    @property
    def message(self) -> str:
        return self.statistics.message

    @cached_property
    def tasks(self) -> dict[int, dict[str, Any]]:
        """Per task: its counters as a dict (``TaskStats.to_dict()``)."""
        return {t: ts.to_dict() for t, ts in self.statistics.tasks.items()}

    @cached_property
    def errors(self) -> list[dict[str, Any]]:
        """The recent errors, oldest first: component, task, worker, time, where, error, traceback."""
        return [e.to_dict() for e in self.statistics.errors]

    @cached_property
    def workers(self) -> dict[int, dict[str, Any]]:
        """Per worker index: pid, host, incarnation, restarts, rss, peak_rss, queued..."""
        return {w.index: w.to_dict() for w in self.statistics.workers}

    def component_totals(self) -> dict[str, dict[str, int]]:
        """Per component (ackers included): emitted, transferred, executed, acked, failed, errors."""
        return {
            name: {k: getattr(c, k) for k in ("emitted", "transferred", "executed", "acked", "failed", "errors")}
            for name, c in self.statistics.components.items()
        }
