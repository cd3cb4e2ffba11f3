"""TopologyContext: what a task knows about itself and the topology.

It is a dict with pystorm's keys (``taskid``, ``componentid``, ``task->component``,
``source->stream->fields``...) so streamparse code reading ``context[...]`` works, plus
attributes for new code.
"""

from __future__ import annotations

from typing import Any

from squall.errors import UnknownComponentError
from squall.topology.plan import Plan
from squall.topology.spec import ComponentDef
from squall.topology.validate import did_you_mean


class TopologyContext(dict[str, Any]):
    """Context handed to ``initialize(conf, context)``."""

    def __init__(self, topology_name: str, task_id: int, components: dict[str, ComponentDef], plan: Plan, worker: int):
        comp = components[plan.task_component[task_id]]
        fields: dict[str, dict[str, list[str]]] = {}
        groupings: dict[str, dict[str, Any]] = {}
        for i in comp.inputs:  # a source may feed this component on several streams: keep each
            fields.setdefault(i.component, {})[i.stream] = list(components[i.component].outputs[i.stream].fields)
            groupings.setdefault(i.component, {})[i.stream] = i.grouping.to_dict()
        self.topology_name = topology_name
        self.task_id = task_id
        self.component_id = comp.name
        self.worker_index = worker
        self.plan = plan
        self.components = components
        super().__init__(
            {
                "taskid": task_id,
                "componentid": comp.name,
                "task->component": {str(t): c for t, c in plan.task_component.items()},
                "streams": list(comp.outputs),
                "stream->outputfields": {s.name: list(s.fields) for s in comp.outputs.values()},
                "source->stream->fields": fields,
                "source->stream->grouping": groupings,
            }
        )

    def component_tasks(self, component: str) -> list[int]:
        """Task ids of ``component`` (e.g. to pick a ``direct_task``).

        :raises UnknownComponentError: (a ``KeyError`` too) the topology has no such component.
        """
        tasks = self.plan.component_tasks.get(component)
        if tasks is None:
            known = [c for c in self.plan.component_tasks if not c.startswith("__")]
            hint = did_you_mean(component, known)
            raise UnknownComponentError(
                f"topology '{self.topology_name}' has no component {component!r}"
                f"{': ' + hint if hint else ''} (its components: {', '.join(known)})"
            )
        return list(tasks)

    def consumers(self, stream: str = "default") -> dict[str, list[int]]:
        """Components subscribed to this task's ``stream``, with their task ids."""
        out: dict[str, list[int]] = {}
        for d in self.components.values():
            for i in d.inputs:
                if i.component == self.component_id and i.stream == stream:
                    out[d.name] = list(self.plan.component_tasks[d.name])
        return out
