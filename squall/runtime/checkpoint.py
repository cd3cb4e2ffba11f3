"""Checkpoint barriers inside a worker: injected by spouts, aligned and forwarded by bolts.

The coordinator starts checkpoint ``n`` (CHECKPOINT); each local spout records ``position()`` and
sends barrier ``n`` to every task downstream of it, *behind* what it emitted before: its local
channels are delivered first, its remote channels flushed first on the same socket. So a barrier
never overtakes a tuple on any channel, tracked or not, local or remote: one barrier per (source
task, destination task) pair is enough, since everything the source sent before it was handed over
first, on every channel of the pair.

A bolt task aligns (a ``Gate``): once barrier ``n`` came from a source task, what that source sends
next is held back (in arrival order) until barrier ``n`` came from every source task upstream. Then,
when the task has nothing waiting and no call in flight (a concurrent bolt's calls end first), a
``StatefulBolt`` stages the keys its state changed under ``n`` in the backend, the barrier goes on
to every task downstream (behind what the task emitted), and the held batches are delivered again.
Stateful tasks and spouts report what they staged (CHECKPOINTED); the coordinator commits.

Cost: nothing per tuple. A gate adds one set lookup per delivered batch, and only in topologies
with a ``StatefulBolt``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from squall.state.kv import KeyValueState, decode_value, encode
from squall.topology.bolt import BatchingBolt
from squall.topology.stateful_bolt import StatefulBolt

if TYPE_CHECKING:
    from squall.runtime.worker import Worker
    from squall.state.backend import StateBackend

#: The stream barriers travel on between workers (Storm's checkpoint stream id). Never a user stream.
BARRIER_STREAM = "$checkpoint"
POSITION_KEY = encode("position")  # a spout task's position, stored as its state

Deliver = Callable[[Any, Any], None]


class Gate:
    """Barrier alignment for one local bolt task."""

    __slots__ = ("task", "upstream", "checkpoint", "blocked", "held", "since")

    def __init__(self, task: int, upstream: frozenset[int]):
        self.task = task
        self.upstream = upstream  # every task whose tuples can come to this one
        self.checkpoint = 0  # the barrier being aligned (0: none yet)
        self.blocked: set[int] = set()  # sources whose barrier came: what they send next is held
        self.held: list[tuple[Deliver, Any, Any]] = []  # (gated delivery, values, ids), in arrival order
        self.since = 0.0  # when the first barrier of ``checkpoint`` came (monotonic)

    @property
    def aligned(self) -> bool:
        return self.checkpoint > 0 and self.blocked >= self.upstream


class WorkerCheckpoints:
    """The checkpoint side of one worker: gates of its bolt tasks, its spouts' positions, its reports."""

    def __init__(self, worker: Worker, backend: StateBackend):
        self.worker = worker
        self.backend = backend
        plan, components = worker.plan, worker.components
        #: component -> the components it subscribes to (user streams only)
        sources = {n: {i.component for i in d.inputs if i.component in components} for n, d in components.items()}
        self.downstream: dict[int, list[int]] = {}
        self.gates: dict[int, Gate] = {}
        for task in worker.tasks():
            comp = plan.task_component[task]
            if comp not in components:  # an acker: not on the barriers' way
                continue
            self.downstream[task] = sorted(
                t for n, srcs in sources.items() if comp in srcs for t in plan.component_tasks[n]
            )
            if components[comp].kind == "bolt":
                up = frozenset(t for s in sources[comp] for t in plan.component_tasks[s])
                self.gates[task] = Gate(task, up)
        self.ready: list[Gate] = []  # aligned gates, waiting for their task to have nothing in hand
        #: checkpoint -> spout task -> the position recorded for it (committed: ``commit(position)``)
        self.positions: dict[int, dict[int, Any]] = {}
        self.reports: list[dict[str, Any]] = []  # CHECKPOINTED messages for the coordinator
        self.stats: dict[int, dict[str, float]] = {}  # task -> figures of its last checkpoint

    # -- setup -------------------------------------------------------------------------------------
    def restore(self, task: int, instance: Any) -> None:
        """Before ``initialize``: a stateful bolt gets its committed state; a spout learns it is checkpointed."""
        if isinstance(instance, StatefulBolt):
            instance.state = KeyValueState.restored(self.backend.load(task))
        elif getattr(instance, "checkpointed", None) is not None:
            instance.checkpointed = True

    def rewind(self, task: int, instance: Any) -> None:
        """After ``initialize``, before ``activate``: a spout goes back to its committed position."""
        stored = self.backend.load(task).get(POSITION_KEY)
        if stored is not None:
            instance.seek(decode_value(stored))

    def gated(self, dest: int, src: int, deliver: Deliver) -> Deliver:
        """``deliver`` for batches of task ``src`` to local task ``dest``, held while ``src`` is blocked there."""
        gate = self.gates.get(dest)
        if gate is None or src not in gate.upstream:
            return deliver

        def gated_deliver(values: Any, ids: Any) -> None:
            if src in gate.blocked:
                gate.held.append((gated_deliver, values, ids))
            else:
                deliver(values, ids)

        return gated_deliver

    def barrier_delivery(self, dest: int, src: int) -> Deliver:
        """How barriers of task ``src`` (from another worker) reach local task ``dest``."""

        def deliver_barrier(values: Any, ids: Any) -> None:
            self.on_barrier(dest, src, values[0])

        return deliver_barrier

    # -- the barrier's way -------------------------------------------------------------------------
    def start(self, n: int) -> None:
        """CHECKPOINT ``n``: each local spout records its position and sends barrier ``n``."""
        w = self.worker
        for sp in w.spouts:
            pos = sp.instance.position()
            t0 = time.monotonic()
            written = self.backend.write(sp.task, n, {POSITION_KEY: encode(pos)})
            self.positions.setdefault(n, {})[sp.task] = pos
            self._staged(n, sp.task, 0, written, time.monotonic() - t0)
            self.send_barrier(sp.task, n)

    def on_barrier(self, dest: int, src: int, n: int) -> None:
        gate = self.gates.get(dest)
        if gate is None or src not in gate.upstream:
            return  # not a flow of this topology (checked on the way in): nothing to align
        if src in gate.blocked:  # the next checkpoint's barrier, behind what ``src`` sent meanwhile
            gate.held.append((self.barrier_delivery(dest, src), [n], None))
            return
        if n != gate.checkpoint:
            if n < gate.checkpoint:
                return  # a stale barrier (an aborted checkpoint's): ignored
            gate.checkpoint, gate.since = n, time.monotonic()
        gate.blocked.add(src)
        if gate.aligned:
            self.ready.append(gate)

    def poll(self) -> int:
        """Complete the aligned gates whose task has nothing in hand; returns how many completed."""
        done = 0
        for gate in list(self.ready):
            ex = self.worker.executors[gate.task]
            if ex.waiting or getattr(ex, "in_flight", 0):
                continue  # tuples from before the barrier are still waiting or running
            inst = ex.instance
            if isinstance(inst, BatchingBolt) and inst._pending():
                inst._flush_pending()  # a batch open at the barrier belongs to this checkpoint
                if ex.waiting or getattr(ex, "in_flight", 0):
                    continue
            self.ready.remove(gate)
            self.complete(gate, inst)
            done += 1
        return done

    def complete(self, gate: Gate, inst: Any) -> None:
        n = gate.checkpoint
        if isinstance(inst, StatefulBolt):
            inst.pre_commit(n)
            t0 = time.monotonic()
            changes = inst.state.take_changes()
            written = self.backend.write(gate.task, n, changes)
            self._staged(n, gate.task, len(inst.state), written, time.monotonic() - t0, gate.since or t0)
        self.send_barrier(gate.task, n)
        held, gate.held = gate.held, []
        gate.blocked = set()
        for deliver, values, ids in held:  # in arrival order; a later barrier in it blocks its source again
            deliver(values, ids)

    def send_barrier(self, src: int, n: int) -> None:
        """Barrier ``n`` from local task ``src`` to every task downstream, behind what ``src`` emitted."""
        w = self.worker
        remote: dict[int, list[int]] = {}
        for ch in w.local_channels:
            if ch.src_task == src and ch.buf and ch.deliver is not None:
                batch = ch.take()
                ch.deliver(batch, ch.take_ids())
        for dest in self.downstream.get(src, ()):
            peer = w.plan.task_worker[dest]
            if peer == w.index:
                self.on_barrier(dest, src, n)
            else:
                remote.setdefault(peer, []).append(dest)
        if remote:
            w.flush()  # everything buffered for other workers goes first, on the same sockets
            for peer, dests in remote.items():
                groups = [(dest, src, BARRIER_STREAM, [n]) for dest in dests]
                w._sent_to(peer, w._send_encoded(peer, groups, len(groups)))

    # -- reports and commits -----------------------------------------------------------------------
    def _staged(self, n: int, task: int, keys: int, written: int, secs: float, since: float = 0.0) -> None:
        if not self.reports or self.reports[-1]["n"] != n:
            self.reports.append({"t": "checkpointed", "n": n, "tasks": {}})
        self.reports[-1]["tasks"][str(task)] = [keys, written]
        align = time.monotonic() - since - secs if since else 0.0
        if since:  # a stateful bolt task (a spout's position is not state worth a figure)
            self.stats[task] = {
                "state_keys": float(keys),
                "last_checkpoint_bytes": float(written),
                "last_checkpoint_align_ms": 1000.0 * max(0.0, align),
            }

    def take_reports(self) -> list[dict[str, Any]]:
        out, self.reports = self.reports, []
        return out

    def committed(self, n: int) -> None:
        """Checkpoint ``n`` is committed: spouts acknowledge at their source, stateful bolts are told."""
        w = self.worker
        done = [k for k in self.positions if k <= n]
        latest = self.positions.get(n, {})
        for k in done:
            del self.positions[k]
        for sp in w.spouts:
            if sp.task in latest:
                try:
                    sp.instance.commit(latest[sp.task])
                except Exception as exc:
                    sp.report("commit", exc)
        for ex in w.bolts.values():
            if isinstance(ex.instance, StatefulBolt):
                try:
                    ex.instance.checkpoint_committed(n)
                except Exception as exc:
                    ex.report("checkpoint_committed", exc)

    @property
    def holding(self) -> bool:
        """Batches held back by an alignment, or a gate waiting to complete."""
        return bool(self.ready) or any(g.held for g in self.gates.values())
