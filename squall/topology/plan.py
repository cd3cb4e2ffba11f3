"""The physical plan: which task ids each component gets and which worker runs each task.

Pure and deterministic, so every worker computes the same plan from the same topology and
config, whoever launched it (a local subprocess today, a Ray actor in cluster mode).
Storm's conventions: task ids start at 1 and are given in sorted component-name order;
tasks are dealt to workers round-robin (Storm's even scheduler), so ``par > workers`` works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from squall.errors import ConfigError
from squall.topology.spec import ComponentDef

ACKER_COMPONENT = "__acker"  # the system component whose tasks are the XOR ackers
TASK_BITS = 16  # a task id fits in this many bits: tuple-tree root ids carry their spout's task id
MAX_TASKS = (1 << TASK_BITS) - 1


@dataclass(frozen=True)
class Plan:
    num_workers: int
    task_component: dict[int, str]
    component_tasks: dict[str, list[int]]
    task_worker: dict[int, int]
    acker_tasks: tuple[int, ...] = ()

    def worker_tasks(self, worker: int) -> list[int]:
        return [t for t, w in self.task_worker.items() if w == worker]

    def to_dict(self) -> dict[str, Any]:
        return {
            "workers": self.num_workers,
            "tasks": {str(t): {"component": c, "worker": self.task_worker[t]} for t, c in self.task_component.items()},
        }


def make_plan(components: dict[str, ComponentDef], requested_workers: int, ackers: int | None = 0) -> Plan:
    """``ackers``: acker tasks (``topology.acker.executors``); None means one per worker, 0 none.

    Acker tasks get the ids after the user's tasks and go to workers round-robin, so adding
    them never moves a user task.
    """
    task_component: dict[int, str] = {}
    component_tasks: dict[str, list[int]] = {}
    next_id = 1
    for name in sorted(components):
        tasks = list(range(next_id, next_id + components[name].par))
        next_id += components[name].par
        component_tasks[name] = tasks
        for t in tasks:
            task_component[t] = name
    n_tasks = len(task_component)
    workers = max(1, min(requested_workers, n_tasks))
    task_worker = {t: i % workers for i, t in enumerate(sorted(task_component))}
    if next_id > MAX_TASKS:
        raise ConfigError(
            f"the topology has {next_id - 1} tasks; at most {MAX_TASKS - 1} are supported: lower some par"
        )
    n_ackers = workers if ackers is None else ackers
    acker_tasks = tuple(range(next_id, next_id + n_ackers))
    if acker_tasks:
        component_tasks[ACKER_COMPONENT] = list(acker_tasks)
    for i, t in enumerate(acker_tasks):
        task_component[t] = ACKER_COMPONENT
        task_worker[t] = i % workers
    return Plan(workers, task_component, component_tasks, task_worker, acker_tasks)
