"""What Spout and Bolt share: ``spec()``, ``initialize``, ``outputs``, ``self.logger``, ``self.emit``.

``Spout.emit`` and ``Bolt.emit`` are the documented signatures (what ``help()`` and editors
show); called on an instance no worker runs, they raise. The runtime gives each task instance
its own ``emit`` (an instance attribute bound to the task's router, with the same parameters),
so ``self.emit(...)`` is one direct call with no lookup through the class.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from squall.errors import EmitError
from squall.topology.spec import ComponentSpec


class Component:
    """Base of Spout and Bolt. Subclass one of those, not this."""

    #: Output field names (the default stream) or ``Stream`` objects (several named streams).
    outputs: ClassVar[Any] = None
    #: Default parallelism and config, overridable in ``spec()``.
    par: ClassVar[int] = 1
    config: ClassVar[dict[str, Any] | None] = None
    #: Calls of ``process`` (bolts) or ``next_tuple`` (spouts) in flight at once per task; overridable
    #: in ``spec()``. More than 1 needs ``async def`` or ``concurrency_mode = "threads"``.
    concurrency: ClassVar[int] = 1
    #: How concurrent calls run: None picks ``"async"`` for an ``async def`` method (one event loop per
    #: worker) and the plain loop otherwise; ``"threads"`` runs blocking code on ``concurrency`` threads
    #: per task. See "Concurrency" in docs/architecture.md.
    concurrency_mode: ClassVar[str | None] = None

    logger: logging.Logger
    task_id: int
    component_name: str

    @classmethod
    def spec(
        cls,
        name: str | None = None,
        inputs: Any = None,
        par: int | None = None,
        config: dict[str, Any] | None = None,
        *,
        concurrency: int | None = None,
        concurrency_mode: str | None = None,
    ) -> ComponentSpec:
        """Place this component in a topology (streamparse's signature, plus two keywords).

        ``inputs`` is a dict ``{spec or spec['stream']: Grouping}`` or a list (shuffle grouping;
        direct grouping for a direct stream). ``par`` is the number of parallel tasks.
        ``concurrency`` and ``concurrency_mode`` override the class attributes of the same names.
        """
        return ComponentSpec(
            cls,
            name=name,
            inputs=inputs,
            par=par,
            config=config,
            concurrency=concurrency,
            concurrency_mode=concurrency_mode,
        )

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        """What is wrong with this component's config, as ``(problem, fix)`` pairs, checked when the
        topology is built (before anything starts). ``conf`` is the topology's config overridden
        by the component's own. Connectors check their keys and client library here."""
        return []

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        """Called once per task before any tuple; set up state here. May be ``async def``: it is
        then run to completion on the worker's event loop."""

    def log(self, message: str, level: str = "info") -> None:
        """pystorm's ``log``: write to this task's logger."""
        self.logger.log(logging.getLevelName(level.upper()), message)

    def emit(self, *args: Any, **kwargs: Any) -> Any:
        """Emit a tuple: see ``Spout.emit`` and ``Bolt.emit`` for the arguments."""
        raise not_running(self, "emit")


def not_running(component: Component, method: str) -> Exception:
    """The error of a runtime method (``emit``) called on an instance no worker runs."""
    return EmitError(
        f"{type(component).__name__}.{method}() was called outside a running topology; "
        "run it with `squall run` or squall.testing, or call initialize() through them"
    )
