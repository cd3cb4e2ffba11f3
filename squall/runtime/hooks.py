"""Hooks a Worker calls while it sets up its tasks: where test doubles plug in.

``squall.testing`` implements them (mocked sources, tuple capture); the runtime knows nothing
of testing. A Worker gets a hooks object directly (``Worker(..., hooks=...)``, what the
in-process runner does); a worker process builds one from an importable reference in its spec
(``{"factory": "module:function", "data": <plain JSON-able data>}``: the factory is called with
``data``), so nothing is pickled on the way. Every method has a do-nothing default: override
what you need.
"""

from __future__ import annotations

from typing import Any

from squall.topology.spout import Spout


class WorkerHooks:
    """Called by ``Worker.setup`` (per task) and by whoever ran the worker when it stops."""

    def make_spout(self, component: str, task: int, index: int, n_tasks: int) -> Spout | None:
        """A spout instance to run instead of ``component``'s class for ``task``, or None (the real one).

        ``task`` is the ``index``-th (from 0) of the component's ``n_tasks`` tasks, so a double can
        split its data among them. The runtime sets ``task_id``, ``component_name`` and ``logger``
        and calls ``initialize`` on it as on any spout.
        """
        return None

    def capture(self, component: str, task: int, stream: str) -> list[Any] | None:
        """A list the task's router appends every values emitted on ``stream`` to, or None.

        Called once per (task, stream) at setup. A captured stream leaves the emit fast path (each
        emit pays one more append), so capture only in tests.
        """
        return None

    def report(self) -> Any:
        """Plain data (msgpack-able) about the run, taken once the worker stopped, or None.

        A worker process sends it to the coordinator in its ``bye`` message; the run's
        ``RunResult.hook_reports`` lists the reports of every worker that stopped cleanly.
        """
        return None
