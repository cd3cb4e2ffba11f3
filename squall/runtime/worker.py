"""A worker: hosts some tasks of a topology and moves tuples between them.

One thread runs a loop (``step``): run what concurrent calls finished, take arrived batches from
other workers, resume work left over from earlier turns, let spouts emit a burst, drain local
channels into their bolts (tuples passed by reference), flush remote channels as one msgpack
message per peer when a batch is full or the flush interval passed, deliver tick tuples. A turn's
user work is bounded by time (``TURN_SECS``), so whoever drives the loop sees control messages
between turns whatever the bolts do. Tuples sent to a peer are counted until the peer reports
them processed (credits, see ``PeerFlow``): the spouts pause while a peer has more than about a
second of its own processing in flight. The Worker knows nothing about who started it:
``squall.local.worker_process`` runs it in a subprocess with a control socket, ``squall.testing``
runs it inside the caller. Test doubles come in as ``hooks`` (``runtime.hooks.WorkerHooks``), never
through the config.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from squall.runtime.acker import ACK_STREAM, CTL_STREAM, FAILED, SYSTEM_STREAMS, AckerExecutor
from squall.runtime.bolt_executor import BoltExecutor
from squall.runtime.checkpoint import BARRIER_STREAM, WorkerCheckpoints
from squall.runtime.concurrency import CLOSE_SECS, EventLoop, Outbox, awaitable
from squall.runtime.concurrent_executor import (
    AsyncBoltExecutor,
    AsyncSpoutExecutor,
    ThreadBoltExecutor,
    ThreadSpoutExecutor,
)
from squall.runtime.error_log import ErrorLog
from squall.runtime.executor import TURN_SECS, Turn
from squall.runtime.hooks import WorkerHooks
from squall.runtime.inbound import (
    DropLog,
    Malformed,
    check_barrier,
    check_ctl,
    check_int_pairs,
    check_ints,
    tracked_check,
    values_check,
)
from squall.runtime.multilang import ShellBoltExecutor, ShellSpoutExecutor
from squall.runtime.router import Channel, Consumer, EmitDebugLog, StreamRouter
from squall.runtime.sampling import Sampler, jsonable
from squall.runtime.spout_executor import PENDING_ADJUST_SECS, SpoutExecutor
from squall.runtime.tuples import tuples_maker
from squall.topology.bolt import Bolt
from squall.topology.config import AUTO_MAX_SPOUT_PENDING, component_conf, runtime_settings
from squall.topology.context import TopologyContext
from squall.topology.grouping import make_picker
from squall.topology.plan import Plan, make_plan
from squall.topology.spec import ComponentDef
from squall.topology.stateful_bolt import checkpointed
from squall.topology.stream import Stream
from squall.transport.base import Transport
from squall.transport.wire import encode_batch, find_unencodable, pack, split_groups, unpack

log = logging.getLogger("squall.runtime.worker")

INFLIGHT_SECS = 1.0  # per peer, tuples in flight up to what it processed in this long (and one batch)
MIN_INFLIGHT = 100  # ... and at least this many (when batches are smaller)
CREDIT_SECS = 0.005  # a worker tells each sender what it has processed at most this often
RATE_SECS = 0.25  # a peer's processing rate is measured over windows this long


class PeerFlow:
    """Tuples this worker sent to one peer (its current incarnation) and how many it has processed.

    The peer reports a running total (a *credit* message: ``[sender, inc, target inc, total]``)
    at most every ``CREDIT_SECS``. In flight = sent - processed: tuples in our overflow, in ZeroMQ
    queues and kernel buffers on both sides, and in the peer's hands. ``limit`` is what the peer
    processed in the last ``INFLIGHT_SECS`` (its rate over ``RATE_SECS`` windows), at least a batch,
    at most ``ceiling``: above it this worker's spouts pause (backpressure). Until the first rate is
    measured, it starts at one batch and grows by what each credit acknowledges (TCP's slow start:
    it doubles every round trip to a peer that keeps up, and hardly grows for one that does not).
    """

    __slots__ = ("inc", "sent", "done", "limit", "floor", "ceiling", "t0", "done0", "measured")

    def __init__(self, inc: int, floor: int, ceiling: int):
        self.inc = inc
        self.sent = 0
        self.done = 0
        self.floor = floor
        self.ceiling = ceiling
        self.limit = floor
        self.t0 = time.monotonic()
        self.done0 = 0
        self.measured = False

    @property
    def inflight(self) -> int:
        return self.sent - self.done

    def credit(self, total: int, now: float) -> None:
        """The peer has processed ``total`` tuples from us: update what is in flight and the limit."""
        if total <= self.done:
            return
        if not self.measured:  # slow start
            self.limit = min(self.ceiling, self.limit + total - self.done)
        self.done = total
        if now - self.t0 >= RATE_SECS:
            rate = (total - self.done0) / (now - self.t0)
            self.limit = min(self.ceiling, max(self.floor, int(rate * INFLIGHT_SECS)))
            self.t0, self.done0, self.measured = now, total, True


#: The executor class of a spout / bolt by ``ComponentDef.mode``.
SPOUT_EXECUTORS: dict[str, type[SpoutExecutor]] = {
    "sync": SpoutExecutor,
    "async": AsyncSpoutExecutor,
    "threads": ThreadSpoutExecutor,
    "shell": ShellSpoutExecutor,
}
BOLT_EXECUTORS: dict[str, type[BoltExecutor]] = {
    "sync": BoltExecutor,
    "async": AsyncBoltExecutor,
    "threads": ThreadBoltExecutor,
    "shell": ShellBoltExecutor,
}


class Worker:
    def __init__(
        self,
        topology: Any,
        conf: dict[str, Any],
        index: int = 0,
        plan: Plan | None = None,
        transport: Transport | None = None,
        hooks: WorkerHooks | None = None,
    ):
        self.topology = topology
        self.name = conf.get("topology.name") or topology.__name__
        self.components: dict[str, ComponentDef] = topology.components
        self.conf = conf
        self.index = index
        self.plan = plan or make_plan(self.components, conf["topology.workers"], conf.get("topology.acker.executors"))
        self.tracking = bool(self.plan.acker_tasks)
        self.transport = transport
        self.errors = ErrorLog()
        self.spouts: list[SpoutExecutor] = []
        self.bolts: dict[int, BoltExecutor] = {}
        self.ackers: list[AckerExecutor] = []
        self.executors: dict[int, Any] = {}  # every local task's executor: where channels deliver
        self.local_channels: list[Channel] = []
        self.remote_channels: dict[int, list[Channel]] = defaultdict(list)
        self.makers: dict[tuple[int, str], Any] = {}  # (src task, stream) -> its tuples_maker
        #: (dest, src, stream, tracked) -> ``(check(values, ids), deliver(values, ids))`` for batches from
        #: other workers; only flows this topology has (``_inbound``)
        self.inbound: dict[
            tuple[int, int, str, bool], tuple[Callable[[Any, Any], None], Callable[[Any, Any], None]]
        ] = {}
        self.hooks = hooks  # test doubles (squall.testing): mocked spouts, capture
        self.init_failure: tuple[str, int] | None = None  # (component, task) whose initialize() raised
        self.debug_logs: dict[int, EmitDebugLog] = {}  # topology.debug: per task
        self.samplers: dict[int, Sampler] = {}  # tasks whose emits are sampled (or were: not yet taken)
        self.sample_ends: dict[int, float] = {}  # task -> when its sampling ends (monotonic)
        self.sample_until = float("inf")  # the earliest of those
        self.settings = settings = runtime_settings(conf)
        self.batch_size = settings.batch_size
        self.batch_bytes = settings.batch_bytes  # a message is cut once its encoding passes this (0: never)
        self.max_message = settings.max_message_bytes  # no message larger than this is sent (0: no limit)
        #: a batch is cut below this many bytes (the smaller of the two limits; inf: neither is set)
        self.send_limit = float(min(x for x in (self.batch_bytes, self.max_message, 1 << 62) if x))
        #: (source task, stream) -> encoded bytes per tuple in its last message of one group (``_send``)
        self.tuple_bytes: dict[tuple[int, str], float] = {}
        #: the largest bytes per tuple of a message so far, and whether tuples that large could make a
        #: batch pass ``send_limit`` (then ``_send`` predicts sizes; word counts never pay for it)
        self.max_tuple_bytes = 0.0
        self.watch_sizes = False
        self.drops = DropLog(f"worker {index}")  # malformed messages from other workers: counted, dropped
        self.flush_secs = settings.flush_secs  # 0: flush every turn
        self.burst_n = settings.spout_burst
        self.last_flush = time.monotonic()
        self.next_tick = float("inf")
        self.draining = False
        self.input_ended = False  # every spout exhausted and nothing in flight: windows may release all
        self.turn = Turn()  # this turn's deadline and the executors with work left, shared with them
        self.local_left = False  # the last drain_local ran out of time with tuples still in channels
        #: tuples waiting in executors above which the worker stops reading its socket (one batch's worth)
        self.waiting_limit = max(1, self.batch_size)
        self.outbox = Outbox()  # what threads of concurrent components hand to this thread
        self.event_loop: EventLoop | None = None  # created for the first async component
        self.concurrent: list[Any] = []  # executors with calls in flight of their own (async, threads)
        self.pumped: list[Any] = []  # the concurrent bolts: they start calls as slots free up
        self.shells: list[Any] = []  # multilang tasks (ShellBolt / ShellSpout): their subprocess's messages
        self.closed = False  # close_components() ran
        #: checkpoint barriers and state (a topology with a StatefulBolt; created by ``setup``)
        self.checkpoints: WorkerCheckpoints | None = None
        timeout = settings.message_timeout_secs
        self.rotate_secs = timeout / 2 if timeout is not None and self.tracking else float("inf")
        self.next_rotate = time.monotonic() + self.rotate_secs
        self.next_adjust = time.monotonic() + PENDING_ADJUST_SECS  # spouts' automatic pending caps
        # flow control between workers (PeerFlow): what we sent to each peer, and what we processed
        # from each sender (sender -> [its incarnation, tuples processed, total last reported])
        self.flows: dict[int, PeerFlow] = {}
        self.blocked: set[int] = set()  # peers with more than their limit in flight: the spouts pause
        self.consumed: dict[int, list[int]] = {}
        self.credit_due = False
        self.next_credit = 0.0
        hwm = settings.transfer_hwm
        self.inflight_floor = max(self.batch_size, MIN_INFLIGHT)
        self.inflight_ceiling = max(hwm * self.batch_size, self.inflight_floor) if hwm else 1 << 62

    # -- setup ----------------------------------------------------------------------------------
    def tasks(self) -> list[int]:
        return self.plan.worker_tasks(self.index)

    def setup(self) -> None:
        """Create the local tasks' instances, wire their routers, call ``initialize``.

        Raises whatever ``initialize`` raises, with the component and task attached as a note
        (and kept in ``init_failure``). An ``async def initialize`` runs to completion on the worker's
        event loop.
        """
        self.outbox.owner = threading.get_ident()  # the thread that runs the loop
        max_pending = self.conf.get("topology.max.spout.pending")
        if checkpointed(self.components):
            from squall.state.backend import open_backend

            self.checkpoints = WorkerCheckpoints(self, open_backend(self.name, self.conf))
        for task in self.tasks():
            if task in self.plan.acker_tasks:
                spout_tasks = self.spout_tasks()
                ex: Any = AckerExecutor(
                    task,
                    {t: self._channel(task, ACK_STREAM, t).buf for t in spout_tasks},
                    {t: self._channel(task, CTL_STREAM, t).buf for t in spout_tasks},
                )
                self.ackers.append(ex)
                self.executors[task] = ex
                continue
            comp = self.components[self.plan.task_component[task]]
            instance: Any = None
            if self.hooks is not None and comp.kind == "spout":
                tasks = self.plan.component_tasks[comp.name]
                instance = self.hooks.make_spout(comp.name, task, tasks.index(task), len(tasks))
            if instance is None:
                instance = comp.cls()
            instance.task_id = task
            instance.component_name = comp.name
            if self.checkpoints is not None:
                self.checkpoints.restore(task, instance)  # before initialize: the committed state
            instance.logger = logging.getLogger(f"{comp.name}:{task}")
            routers = {s.name: self._router(comp, task, s) for s in comp.outputs.values()}
            ackers = self.plan.acker_tasks
            ack_bufs = [self._channel(task, ACK_STREAM, a).buf for a in ackers] if self.tracking else None
            ctl_bufs = [self._channel(task, CTL_STREAM, a).buf for a in ackers] if self.tracking else None
            done_bufs = (
                {t: self._channel(task, ACK_STREAM, t).buf for t in self.spout_tasks()}
                if self.tracking and comp.kind == "bolt"
                else None
            )
            cconf = component_conf(self.conf, comp.config)
            # a test double that replaced the spout (testing hooks) runs as the plain spout it is
            mode = comp.mode if isinstance(instance, comp.cls) else "sync"
            kwargs: dict[str, Any] = {"ack_bufs": ack_bufs, "ctl_bufs": ctl_bufs, "turn": self.turn}
            kwargs.update(self._mode_kwargs(mode, comp, cconf))
            if comp.kind == "spout":
                ackers = self.plan.acker_tasks
                local = [i for i, a in enumerate(ackers) if self.plan.task_worker[a] == self.index]
                home = local[task % len(local)] if local else (task % len(ackers) if ackers else 0)
                ex = SPOUT_EXECUTORS[mode](
                    task,
                    comp.name,
                    instance,
                    routers,
                    self.errors,
                    max_pending=cconf.get("topology.max.spout.pending", max_pending),
                    auto_pending=AUTO_MAX_SPOUT_PENDING,
                    message_timeout=self.settings.message_timeout_secs,
                    home_acker=home,
                    **kwargs,
                )
                self.spouts.append(ex)
            else:
                tick = cconf.get("topology.tick.tuple.freq.secs")
                ex = BOLT_EXECUTORS[mode](
                    task,
                    comp.name,
                    instance,
                    routers,
                    self.errors,
                    done_bufs=done_bufs,
                    tick_secs=tick or None,  # None or 0: no ticks
                    **kwargs,
                )
                self.bolts[task] = ex
                self.next_tick = min(self.next_tick, ex.next_tick)
            if mode != "sync":
                self.concurrent.append(ex)
                if comp.kind == "bolt":
                    self.pumped.append(ex)
                if mode == "shell":
                    self.shells.append(ex)
            self.executors[task] = ex
        for ch in self.local_channels:  # every sink exists now: bind each channel's delivery once
            ch.deliver = self._user_delivery(ch.dest_task, ch.src_task, ch.stream, ch.ids is not None)
        self._initialize_all()

    def _initialize_all(self) -> None:
        """Storm's ``prepare``/``open``: each task's ``initialize``; then, in a checkpointed topology,
        each spout's ``seek`` to the last committed checkpoint (before it is activated)."""
        for task, ex in self.executors.items():
            if task in self.plan.acker_tasks:
                continue
            comp = self.components[ex.component]
            context = TopologyContext(self.name, task, self.components, self.plan, self.index)
            try:
                r = ex.instance.initialize(component_conf(self.conf, comp.config), context)
                if awaitable(r):
                    self._event_loop().run(r)
            except Exception as exc:
                self.init_failure = (comp.name, task)
                exc.add_note(f"in {comp.name}.initialize() (task {task}, class {comp.class_ref})")
                raise
        if self.checkpoints is not None:
            for sp in self.spouts:  # back to the last committed checkpoint's position (before activate)
                try:
                    self.checkpoints.rewind(sp.task, sp.instance)
                except Exception as exc:
                    self.init_failure = (sp.component, sp.task)
                    exc.add_note(f"in {sp.component}.seek() (task {sp.task}): rewinding to the last checkpoint")
                    raise

    def _mode_kwargs(self, mode: str, comp: ComponentDef, cconf: dict[str, Any]) -> dict[str, Any]:
        """The executor's arguments that depend on how the component runs (``ComponentDef.mode``)."""
        if mode == "shell":  # a subprocess per task (ShellBolt / ShellSpout)
            return {"shell_conf": cconf}
        if mode == "async":
            return {"concurrency": comp.concurrency, "loop": self._event_loop()}
        if mode == "threads":
            return {"concurrency": comp.concurrency, "outbox": self.outbox}
        return {}

    def _event_loop(self) -> EventLoop:
        if self.event_loop is None:
            self.event_loop = EventLoop()
        return self.event_loop

    def spout_tasks(self) -> list[int]:
        return [t for name, d in self.components.items() if d.kind == "spout" for t in self.plan.component_tasks[name]]

    def _router(self, comp: ComponentDef, task: int, stream: Stream) -> StreamRouter:
        plan = self.plan
        consumers = []
        for d in self.components.values():
            for inp in d.inputs:
                if inp.component != comp.name or inp.stream != stream.name:
                    continue
                targets = sorted(plan.component_tasks[d.name])
                local = [t for t in targets if plan.task_worker[t] == self.index]
                context = TopologyContext(self.name, task, self.components, plan, self.index)
                picker = make_picker(
                    inp.grouping,
                    source_fields=stream.fields,
                    targets=targets,
                    local_targets=local,
                    source_task=task,
                    stream=stream.name,
                    context=context,
                )
                chans = [self._channel(task, stream.name, t) for t in picker.targets]
                tchans = (
                    [self._channel(task, stream.name, t, tracked=True) for t in picker.targets]
                    if self.tracking
                    else None
                )
                consumers.append(Consumer(d.name, picker, chans, tchans))
        capture = self.hooks.capture(comp.name, task, stream.name) if self.hooks is not None else None
        cconf = component_conf(self.conf, comp.config)
        debug = None
        if cconf.get("topology.debug"):  # one rate-limited log per task, shared by its streams
            debug = self.debug_logs.get(task) or self.debug_logs.setdefault(task, EmitDebugLog(comp.name, task))
        return StreamRouter(
            comp.name,
            task,
            stream,
            consumers,
            capture=capture,
            debug=debug,
            check_encodable=bool(cconf.get("topology.testing.always.try.serialize")),
        )

    def _channel(self, src: int, stream: str, dest: int, tracked: bool = False) -> Channel:
        """A new channel from task ``src`` to task ``dest`` (its delivery is bound once every task exists)."""
        w = self.plan.task_worker[dest]
        ch = Channel(src, stream, dest, local=(w == self.index), peer=w, tracked=tracked)
        if ch.local:
            self.local_channels.append(ch)
        else:
            self.remote_channels[w].append(ch)
        return ch

    def _maker(self, src: int, stream: str) -> Any:
        """The tuples_maker for task ``src``'s ``stream`` (one per pair, shared by its channels)."""
        make = self.makers.get((src, stream))
        if make is None:
            comp = self.components[self.plan.task_component[src]]
            make = self.makers[(src, stream)] = tuples_maker(comp.name, stream, src, comp.outputs[stream].fields)
        return make

    def _delivery(self, dest: int, src: int, stream: str, tracked: bool) -> Callable[[Any, Any], None]:
        """``deliver(values, ids)``: how a batch of task ``src``'s ``stream`` reaches local task ``dest``.

        Chosen once per channel (local) or per (dest, src, stream, tracked) key (inbound), never per
        batch: acker messages go to ``execute_acks`` as they are, acker control (FAIL, FAILED) to
        ``execute``, user tuples are built in C and go to a bolt's ``execute`` or ``execute_tracked``.
        """
        sink = self.executors[dest]
        if stream == ACK_STREAM:
            execute_acks = sink.execute_acks

            def deliver_acks(values: Any, ids: Any) -> None:
                execute_acks(values, len(values))

            return deliver_acks
        if stream == CTL_STREAM:
            execute_ctl = sink.execute

            def deliver_ctl(values: Any, ids: Any) -> None:
                execute_ctl(values, len(values))

            return deliver_ctl
        make = self._maker(src, stream)
        if tracked:
            execute_tracked = sink.execute_tracked

            def deliver_tracked(values: Any, ids: Any) -> None:
                execute_tracked(make(values, ids), len(values))

            return deliver_tracked
        execute = sink.execute

        def deliver(values: Any, ids: Any) -> None:
            execute(make(values), len(values))

        return deliver

    def _user_delivery(self, dest: int, src: int, stream: str, tracked: bool) -> Callable[[Any, Any], None]:
        """``_delivery``, gated by the checkpoint barriers' alignment when the topology checkpoints."""
        deliver = self._delivery(dest, src, stream, tracked)
        if self.checkpoints is None or stream in SYSTEM_STREAMS:
            return deliver
        return self.checkpoints.gated(dest, src, deliver)

    # -- lifecycle --------------------------------------------------------------------------------
    def activate(self) -> None:
        for s in self.spouts:
            s.activate()

    def deactivate(self) -> None:
        for s in self.spouts:
            s.deactivate()

    @property
    def spouts_done(self) -> bool:
        """No local spout will emit again (exhausted or deactivated) or waits for a tree."""
        return all(s.done for s in self.spouts)

    @property
    def spouts_ended(self) -> bool:
        """Every local spout is exhausted, though trees may still be in flight: time to drain, so
        that bolts holding tuples back (windows, batches) release them and the trees can complete."""
        return all(s.exhausted for s in self.spouts)

    @property
    def spouts_exhausted(self) -> bool:
        """Every local spout is exhausted and waits for no tree: not merely deactivated (it may resume)."""
        return all(s.exhausted and s.done for s in self.spouts)

    # -- the loop -------------------------------------------------------------------------------
    def step(self) -> int:
        """One turn of the loop; returns how much work it did (0 = idle).

        User calls stop being started once the turn has run ``TURN_SECS`` (a call that runs is never
        interrupted): a bolt's batch runs in slices with one clock read each, and what is left waits
        in its executor, in order, for the next turn (``resume``). Spouts pause while anything waits
        (local backpressure) as they do while a peer cannot take more (remote backpressure).
        """
        turn = self.turn
        turn.over = False
        turn.deadline = time.monotonic() + TURN_SECS
        work = 0
        if self.concurrent:
            work += self.collect()
        transport = self.transport
        if transport is not None:
            if transport.n_overflow:
                work += transport.retry()
            work += self.receive()
        if turn.backlog:
            work += self.resume()
        if self.blocked:
            self.forget_restarted()
        if self.spouts:
            work += self.call_spouts()
        work += self.drain_local()
        if self.remote_channels:
            work += self.maybe_flush()
        self.timers(time.monotonic())
        if self.checkpoints is not None and self.checkpoints.ready:
            work += self.checkpoints.poll()
        if self.draining:
            ended = self.input_ended
            for b in self.bolts.values():
                inst = b.instance
                if inst._pending() and (ended or not inst._squall_holds_to_end):
                    inst._flush_pending()
                    work += 1
        return work

    def timers(self, now: float) -> None:
        """What is due by the clock: credits to senders, tick tuples, timeouts, spouts' pending caps."""
        if self.credit_due and now >= self.next_credit:
            self.send_credits(now)
        if now >= self.next_tick:
            self.deliver_ticks(now)
        if now >= self.next_rotate:
            self.next_rotate = now + self.rotate_secs
            for sp in self.spouts:
                sp.rotate()
            for a in self.ackers:
                a.rotate()
        if now >= self.next_adjust:
            self.next_adjust = now + PENDING_ADJUST_SECS
            for sp in self.spouts:
                sp.adjust_pending(now)
        if now >= self.sample_until:
            self.end_sampling(now)

    # -- sampling (Storm UI's debug sampling) ------------------------------------------------------
    def start_sampling(self, component: str, stream: str | None, secs: float, per_task: int) -> int:
        """Capture the emits of ``component``'s local tasks on ``stream`` (None: every stream) for
        ``secs`` seconds, at most ``per_task`` per task between two ``take_samples()``; returns the
        number of tasks that sample. Only their routers leave the fast paths, and only meanwhile."""
        until = time.monotonic() + secs
        n = 0
        for task, ex in self.executors.items():
            if ex.component != component or isinstance(ex, AckerExecutor):
                continue
            chosen = [r for name, r in ex.routers.items() if stream is None or name == stream]
            if not chosen:
                continue
            old = self.samplers.get(task)
            sampler = self.samplers[task] = Sampler(task, per_task)
            if old is not None:  # captured, not yet taken: kept
                sampler.got.extend(old.got)
                sampler.skipped = old.skipped
            for r in ex.routers.values():
                if r in chosen:
                    r.sample(sampler)
                else:
                    r.unsample()
            ex.bind_emit()
            self.sample_ends[task] = until
            n += 1
        self.sample_until = min(self.sample_ends.values(), default=float("inf"))
        return n

    def end_sampling(self, now: float) -> None:
        """Put the routers of the tasks whose sampling time is up back on their fast paths."""
        for task, end in list(self.sample_ends.items()):
            if now >= end:
                del self.sample_ends[task]
                ex = self.executors[task]
                for r in ex.routers.values():
                    r.unsample()
                ex.bind_emit()
        self.sample_until = min(self.sample_ends.values(), default=float("inf"))

    def take_samples(self) -> list[list[Any]]:
        """What the samplers captured since the last call, ``[task, stream, epoch time, values]``
        with JSON-able values; samplers whose time is up are dropped once emptied."""
        out: list[list[Any]] = []
        for task, sampler in list(self.samplers.items()):
            for stream, t, values in sampler.take():
                out.append([task, stream, t, jsonable(values)])
            if task not in self.sample_ends:
                del self.samplers[task]
        return out

    def call_spouts(self) -> int:
        """A burst of each active spout, unless backpressure holds them: tuples wait in this worker
        (an executor's backlog, channels a turn could not drain), a peer cannot take more, or a peer
        has more than its limit in flight (credits)."""
        turn, transport = self.turn, self.transport
        if turn.backlog or turn.over or self.local_left or self.blocked or (transport and transport.n_overflow):
            return 0
        work = 0
        burst = self.burst_n
        for sp in self.spouts:
            if sp.wants_turn:  # active, with new tuples or failed trees to offer
                work += sp.burst(burst)
        return work

    def collect(self) -> int:
        """Concurrent components: run what their threads handed over (emits, ends of calls), one
        iteration of the event loop, and start calls in the slots that freed up."""
        work = 0
        if self.outbox.queue:
            work += self.outbox.run(self.turn.deadline)
        loop = self.event_loop
        if loop is not None and loop.tasks:
            loop.tick()
        if self.shells:
            now = time.monotonic()
            for sh in self.shells:
                work += sh.poll(now)
        for ex in self.pumped:
            if ex.waiting and ex.in_flight < ex.limit:
                work += ex.pump()
        return work

    def receive(self) -> int:
        """Take arrived batches until the turn's time is up, or until more than a batch's worth of
        tuples waits in executors (the rest stays in the socket: the senders' backpressure)."""
        transport, turn = self.transport, self.turn
        assert transport is not None
        clock = time.monotonic
        work = 0
        while not turn.over and turn.waiting < self.waiting_limit:
            ready = transport.recv_ready(1)
            if not ready:
                break
            work += self.on_message(ready[0])
            if clock() >= turn.deadline:
                turn.over = True
        return work

    def resume(self) -> int:
        """Give executors with work left from earlier turns their turn, oldest first (the first one
        even when the time is up, so work always moves); one still busy goes to the back of the line."""
        turn = self.turn
        backlog = turn.backlog
        work = 0
        for i, ex in enumerate(list(backlog)):
            if i and turn.over:
                break
            del backlog[ex]
            work += ex.resume()  # puts itself back (at the end) while it has work left
        return work

    def drain_local(self, rounds: int = 8) -> int:
        """Deliver local channels to their tasks (a few rounds: deliveries emit), until the turn is over."""
        turn = self.turn
        self.local_left = False
        total = 0
        for _ in range(rounds):
            moved = 0
            for ch in self.local_channels:
                if ch.buf:
                    if turn.over:
                        self.local_left = True
                        return total + moved
                    batch = ch.take()
                    ch.deliver(batch, ch.take_ids())  # type: ignore[misc]
                    moved += len(batch)
            if not moved:
                break
            total += moved
        return total

    def buffered_remote(self) -> int:
        return sum(len(ch.buf) for chans in self.remote_channels.values() for ch in chans)

    def maybe_flush(self) -> int:
        now = time.monotonic()
        if now - self.last_flush >= self.flush_secs:
            return self.flush()
        if self.buffered_remote() >= self.batch_size:
            return self.flush()
        return 0

    def flush(self) -> int:
        """Send every non-empty remote channel, one message per peer (more if it is too large)."""
        self.last_flush = time.monotonic()
        sent = 0
        for peer, chans in self.remote_channels.items():
            groups: list[tuple[Any, ...]] = []
            n = 0
            for ch in chans:
                if ch.buf:
                    batch = ch.take()
                    n += len(batch)
                    if ch.ids is None:
                        groups.append((ch.dest_task, ch.src_task, ch.stream, batch))
                    else:
                        groups.append((ch.dest_task, ch.src_task, ch.stream, batch, ch.take_ids()))
            if groups:
                sent += n
                self._sent_to(peer, self._send(peer, groups, n))
        return sent

    def _sent_to(self, peer: int, n: int) -> None:
        """Count ``n`` tuples sent to ``peer``; block the spouts when that puts it over its limit."""
        inc = self.transport.peer_inc[peer]  # type: ignore[union-attr]
        flow = self.flows.get(peer)
        if flow is None or flow.inc != inc:  # a new peer, or a restarted one: what was in flight is lost
            flow = self.flows[peer] = PeerFlow(inc, self.inflight_floor, self.inflight_ceiling)
            self.blocked.discard(peer)
        flow.sent += n
        if flow.sent - flow.done >= flow.limit:
            self.blocked.add(peer)

    def forget_restarted(self) -> None:
        """A blocked peer that was restarted (a new incarnation) took what was in flight with it."""
        if self.transport is None:
            return
        peer_inc, flows = self.transport.peer_inc, self.flows
        for peer in [p for p in self.blocked if p in flows and flows[p].inc != peer_inc.get(p)]:
            del flows[peer]
            self.blocked.discard(peer)

    def on_credit(self, sender: int, sender_inc: int, total: int) -> None:
        """``sender`` has processed ``total`` tuples from us (its incarnation ``sender_inc``)."""
        flow = self.flows.get(sender)
        if flow is None or flow.inc != sender_inc:
            return  # about an incarnation we no longer send to
        flow.credit(total, time.monotonic())
        if sender in self.blocked and flow.sent - flow.done < flow.limit:
            self.blocked.discard(sender)

    def send_credits(self, now: float) -> None:
        """Tell each sender how many of its tuples we have processed (when that changed)."""
        self.credit_due = False
        self.next_credit = now + CREDIT_SECS
        t = self.transport
        assert t is not None
        for sender, entry in self.consumed.items():
            inc, total, reported = entry
            if total != reported and t.peer_inc.get(sender) == inc:
                entry[2] = total
                t.send(sender, encode_batch(self.index, t.incarnation, inc, total))

    def inflight(self) -> int:
        """Tuples sent to other workers that they have not processed yet."""
        return sum(f.sent - f.done for f in self.flows.values())

    def _send(self, peer: int, groups: list[Any], n: int) -> int:
        """Encode ``n`` tuples in ``groups`` for ``peer`` and send them: cut in several messages when the
        encoding passes ``squall.transfer.batch.bytes``; a tuple that alone passes
        ``squall.transfer.max.message.bytes`` is not sent (an EmitError, its tree failed). Returns the
        tuples sent (what the peer will credit back).

        Once large tuples have been seen (``watch_sizes``), and for the very first batch, a batch
        that the last sizes of its streams say is much too large is cut before it is encoded (so
        large values are encoded once); if the first piece shows that its tuples became small, the
        rest goes as one batch again. Otherwise a batch is cut after encoding, if too large."""
        if n > 1 and (self.watch_sizes or not self.tuple_bytes):
            limit = self.send_limit
            guess = self._guess(groups)
            if guess > 2 * limit:
                parts = split_groups(groups, n, -int(-guess // limit))
                first, k = parts[0]
                done = self._send_encoded(peer, first, k)
                rest = [g for part, _ in parts[1:] for g in part]
                if rest and self._guess(rest) <= 2 * limit:
                    return done + self._send_encoded(peer, rest, n - k)
                for part, k in parts[1:]:
                    done += self._send_encoded(peer, part, k)
                return done
        return self._send_encoded(peer, groups, n)

    def _guess(self, groups: list[Any]) -> float:
        """The encoded size of ``groups`` from the last size per tuple of their streams."""
        sizes = self.tuple_bytes
        guess = 0.0
        for g in groups:
            per = sizes.get((g[1], g[2]))
            if per is None:  # the first batch of this stream: the size of its first tuple
                try:
                    per = float(len(pack(g[3][0]))) if g[3] else 0.0
                except (TypeError, ValueError, OverflowError):
                    per = 0.0
                sizes[(g[1], g[2])] = per
            guess += len(g[3]) * per
        return guess

    def _send_encoded(self, peer: int, groups: list[Any], n: int) -> int:
        """Encode and send (cut again if too large); returns the tuples sent."""
        payload, n = self._encode(peer, groups)  # n: without values that could not be encoded
        if not n:
            return 0
        size = len(payload)
        per = size / n
        if per > self.max_tuple_bytes:
            self.max_tuple_bytes = per
            # a batch of such tuples could pass the limit: from now on, watch the sizes per stream
            self.watch_sizes = per * 4 * max(self.batch_size, 1) > self.send_limit
        if self.watch_sizes and len(groups) == 1:  # one stream: its size per tuple, for the guess
            self.tuple_bytes[(groups[0][1], groups[0][2])] = per
        if size > self.send_limit:
            cut, cap = self.batch_bytes, self.max_message
            parts = split_groups(groups, n, max(2, -int(-size // self.send_limit))) if n > 1 else []
            if len(parts) > 1 and ((cut and size > cut) or (cap and size > cap)):
                return sum(self._send_encoded(peer, part, k) for part, k in parts)
            if cap and size > cap:  # one tuple (or one system batch, which is never cut) too large to send
                self._too_large(groups[0], size)
                return 0
        self.transport.send(peer, payload)  # type: ignore[union-attr]
        return n

    def _too_large(self, group: tuple[Any, ...], size: int) -> None:
        from squall.errors import EmitError

        dest, src, stream = group[:3]
        exc = EmitError(
            f"component '{self.plan.task_component[src]}' (task {src}) emitted a tuple on stream '{stream}' whose "
            f"encoding ({size:,} bytes) is larger than squall.transfer.max.message.bytes ({self.max_message:,}): it "
            f"was not sent to task {dest} in worker {self.plan.task_worker[dest]}; emit smaller values (e.g. a "
            "reference to the data) or raise the limit"
        )
        self._reject_emits(src, group[4] if len(group) > 4 else None, exc)

    def _reject_emits(self, src: int, ids: Any, exc: Exception) -> None:
        """Tuples of task ``src`` that could not be sent: report ``exc`` on it and fail their trees."""
        ex = self.executors.get(src)
        if ex is None:
            return
        ex.report("emit", exc)
        for mid in ids or ():
            if isinstance(ex, BoltExecutor):
                ex._fail(mid)
            elif isinstance(ex, SpoutExecutor):  # the spout's own tuple: fail its tree(s) at the spout now
                ex.execute([(FAILED, root) for root in ((mid,) if type(mid) is int else mid[0::2])], 1)

    def _encode(self, peer: int, groups: list[Any]) -> tuple[bytes, int]:
        """The message for ``peer`` and the number of tuples in it."""
        t = self.transport
        assert t is not None
        header = (self.index, t.incarnation, t.peer_inc[peer])
        try:
            return encode_batch(*header, groups), sum(len(g[3]) for g in groups)
        except (TypeError, ValueError, OverflowError):
            pass
        # Some values cannot cross processes: report them (naming the component) and send the rest.
        from squall.errors import EmitError

        clean = []
        for group in groups:
            dest, src, stream, batch = group[:4]
            ids = group[4] if len(group) > 4 else None
            bad = set(find_unencodable(batch))
            if bad:
                comp = self.plan.task_component[src]
                example = batch[min(bad)]
                exc = EmitError(
                    f"component '{comp}' (task {src}) emitted {len(bad)} tuple(s) on stream '{stream}' whose values "
                    f"cannot be sent to another worker, e.g. {example!r}; emit only None, bool, int, float, str, "
                    "bytes, lists, tuples and dicts of those"
                )
                batch = [v for i, v in enumerate(batch) if i not in bad]
                self._reject_emits(src, [ids[i] for i in sorted(bad)] if ids is not None else None, exc)
                if ids is not None:  # the dropped tracked tuples fail their trees
                    ids = [m for i, m in enumerate(ids) if i not in bad]
            clean.append((dest, src, stream, batch) if ids is None else (dest, src, stream, batch, ids))
        return encode_batch(*header, clean), sum(len(g[3]) for g in clean)

    def on_message(self, payload: bytes) -> int:
        """Deliver a batch from another worker.

        The whole message is checked before any of it is delivered or counted as received
        (``runtime.inbound``): a malformed or unknown one is counted, logged (throttled) and
        dropped, and never raises. Not counting it keeps the end-of-run detection exact (a peer
        of this run never sends one).
        """
        try:
            sender, sender_inc, target_inc, groups = unpack(payload)
        except Exception as exc:  # not msgpack, trailing bytes, not four items
            self.drops.drop("a message that is not a batch", exc)
            return 1
        if (
            type(sender) is not int
            or not 0 <= sender < self.plan.num_workers
            or sender == self.index
            or type(sender_inc) is not int
            or type(target_inc) is not int
            or (type(groups) is not tuple and type(groups) is not int)
        ):
            self.drops.drop(f"a batch with a bad header (sender {str(sender)[:40]})")
            return 1
        if type(groups) is int:  # a credit: the sender has processed this many of our tuples
            if self.transport.accept(sender, sender_inc, target_inc):  # type: ignore[union-attr]  # counted: it was sent
                self.on_credit(sender, sender_inc, groups)
            return 1
        inbound = self.inbound
        ready = []
        try:
            for group in groups:  # type: ignore[union-attr]  # a tuple here (a credit's int returned above)
                # (dest, src, stream, values) or, tracked, (dest, src, stream, values, ids)
                n = len(group) if type(group) is tuple else 0
                if n != 4 and n != 5:
                    raise Malformed("a group that is not [dest task, source task, stream, values(, ids)]")
                key = (group[0], group[1], group[2], n == 5)
                entry = inbound.get(key)
                if entry is None:
                    entry = self._inbound(key)
                    if entry is None:
                        raise Malformed(f"a batch for no flow of this topology: {str(key[:3])[:80]}")
                    inbound[key] = entry
                check, deliver = entry
                values, ids = group[3], group[4] if n == 5 else None
                check(values, ids)
                ready.append((deliver, values, ids))
        except Exception as exc:  # Malformed, or what a malformed key or value raised (an unhashable key...)
            self.drops.drop(str(exc) if isinstance(exc, Malformed) else "a malformed group", exc)
            return 1
        if not self.transport.accept(sender, sender_inc, target_inc):  # type: ignore[union-attr]
            return 1
        n_total = 0
        for deliver, values, ids in ready:
            deliver(values, ids)
            n_total += len(values)
        consumed = self.consumed.get(sender)
        if consumed is None or consumed[0] != sender_inc:  # a new sender, or a restarted one
            consumed = self.consumed[sender] = [sender_inc, 0, 0]
        consumed[1] += n_total
        self.credit_due = True
        return n_total or 1

    def _inbound(
        self, key: tuple[Any, Any, Any, bool]
    ) -> tuple[Callable[[Any, Any], None], Callable[[Any, Any], None]] | None:
        """``(check, deliver)`` for batches from another worker keyed ``(dest, src, stream, tracked)``:
        ``check(values, ids)`` raises ``Malformed``; None when this topology has no such flow into a local task."""
        dest, src, stream, tracked = key
        if type(dest) is not int or type(src) is not int or type(stream) is not str:
            return None
        sink = self.executors.get(dest)
        source = self.plan.task_component.get(src)
        if sink is None or source is None:
            return None
        from_acker = src in self.plan.acker_tasks
        check: Callable[[Any, Any], None]
        if stream == BARRIER_STREAM:  # a checkpoint barrier: [n], from a task upstream of ``dest``
            cp = self.checkpoints
            gate = cp.gates.get(dest) if cp is not None else None
            if tracked or cp is None or gate is None or src not in gate.upstream:
                return None
            return check_barrier, cp.barrier_delivery(dest, src)
        if stream in SYSTEM_STREAMS:
            if tracked or isinstance(sink, BoltExecutor):
                return None
            if isinstance(sink, AckerExecutor):  # announcements, acks, fails from spouts and bolts
                if from_acker:
                    return None
                check = check_int_pairs if stream == ACK_STREAM else check_ctl
            elif stream == ACK_STREAM:  # completed trees: from an acker, or from a bolt (first hop)
                if not from_acker and self.components[source].kind != "bolt":
                    return None
                check = check_ints
            else:  # failed trees, from an acker
                if not from_acker:
                    return None
                check = check_ctl
        else:
            if from_acker or not isinstance(sink, BoltExecutor) or (tracked and not self.tracking):
                return None
            out = self.components[source].outputs.get(stream)
            target = self.components[sink.component]
            if out is None or not any(i.component == source and i.stream == stream for i in target.inputs):
                return None
            arity = len(out.fields)
            check = tracked_check(arity, frozenset(self.spout_tasks())) if tracked else values_check(arity)
        return check, self._user_delivery(dest, src, stream, tracked)

    def checkpoint_stats(self) -> dict[int, dict[str, float]]:
        """Per local task, the figures of its last checkpoint (empty when the topology has none)."""
        return self.checkpoints.stats if self.checkpoints is not None else {}

    def deliver_ticks(self, now: float) -> None:
        nxt = float("inf")
        for b in self.bolts.values():
            if b.tick_secs:
                if now >= b.next_tick:
                    b.tick(now)
                nxt = min(nxt, b.next_tick)
        self.next_tick = nxt

    # -- state for the coordinator ------------------------------------------------------------------
    def idle(self) -> bool:
        """Nothing buffered here: local channels empty, remote flushed, no overflow, no held batches,
        nothing waiting in an executor, no concurrent call in flight."""
        if self.turn.backlog or self.outbox.queue or any(ex.in_flight for ex in self.concurrent):
            return False
        if any(ch.buf for ch in self.local_channels):
            return False
        if self.remote_channels and self.buffered_remote():
            return False
        if self.transport is not None and (self.transport.n_overflow or self.credit_due):
            return False
        if self.checkpoints is not None and self.checkpoints.holding:
            return False
        return not any(isinstance(b.instance, Bolt) and b.instance._pending() for b in self.bolts.values())

    def quiet(self) -> bool:
        """Idle but for what bolts hold back until the end of their input (windows): with every spout
        exhausted and every worker quiet, no tuple is on its way any more."""
        if self.turn.backlog or self.outbox.queue or any(ex.in_flight for ex in self.concurrent):
            return False
        if any(ch.buf for ch in self.local_channels):
            return False
        if self.remote_channels and self.buffered_remote():
            return False
        if self.checkpoints is not None and self.checkpoints.holding:
            return False
        return self.transport is None or not (self.transport.n_overflow or self.credit_due)

    def queued(self) -> int:
        """Tuples waiting: in local and remote channels here, in executors' queues, in overflow, and
        sent to peers not yet processed there."""
        n = sum(len(ch.buf) for ch in self.local_channels) + self.buffered_remote() + self.turn.waiting
        return n + self.inflight()  # overflow batches count as sent (in flight)

    def task_stats(self) -> dict[int, dict[str, Any]]:
        """Cumulative counters per local task (read by the status line and, later, the UI)."""
        out: dict[int, dict[str, Any]] = {}
        transferred: dict[int, int] = defaultdict(int)
        for ch in self.local_channels:
            if ch.stream not in SYSTEM_STREAMS:
                transferred[ch.src_task] += ch.transferred
        for chans in self.remote_channels.values():
            for ch in chans:
                if ch.stream not in SYSTEM_STREAMS:
                    transferred[ch.src_task] += ch.transferred
        for task, ex in self.executors.items():
            st: dict[str, Any] = {
                "component": ex.component,
                "emitted": ex.emitted(),
                "transferred": transferred.get(task, 0),
                "acked": ex.acked,
                "failed": ex.failed,
                "errors": ex.error_count,
            }
            if isinstance(ex, (BoltExecutor, AckerExecutor)):
                st["executed"] = ex.executed
                own = (
                    ex.instance._squall_metrics()
                    if isinstance(ex, BoltExecutor) and isinstance(ex.instance, Bolt)
                    else None
                )
                if own:
                    st["metrics"], st["gauges"] = own
                ckpt = self.checkpoints.stats.get(task) if self.checkpoints is not None else None
                if ckpt:  # a stateful task: its state's size at its last checkpoint
                    st["gauges"] = {**st.get("gauges", {}), **ckpt}
            st.update(ex.stats())
            out[task] = st
        return out

    def close(self) -> None:
        """A graceful stop: the components' ``close_components()`` (unless it ran), then the event loop,
        the logs and the sockets."""
        self.close_components()
        self.errors.close()
        for debug in self.debug_logs.values():
            debug.close()
        if self.event_loop is not None:
            self.event_loop.close()
        if self.transport is not None:
            self.transport.close()

    def close_components(self) -> None:
        """Once: concurrent calls still in flight end (threads finish their call, tasks are cancelled;
        ``CLOSE_SECS`` at most: the drain waited for them before), then Storm's ``close()`` for spouts
        and ``cleanup()`` for bolts (either may be ``async def``); their errors are reported."""
        if self.closed:
            return
        self.closed = True
        deadline = time.monotonic() + CLOSE_SECS
        self.outbox.cancel()  # a thread waiting for an emit's task ids gets an error, not a hang
        for ex in self.concurrent:
            if isinstance(ex, (ThreadBoltExecutor, ThreadSpoutExecutor, ShellBoltExecutor, ShellSpoutExecutor)):
                ex.close(deadline)
        if self.event_loop is not None:
            self.event_loop.cancel()
        for ex in self.executors.values():
            hook = (
                getattr(ex.instance, "close" if isinstance(ex, SpoutExecutor) else "cleanup", None)
                if not isinstance(ex, AckerExecutor)
                else None
            )
            if hook is not None:
                try:
                    r = hook()
                    if awaitable(r):
                        self._event_loop().run(r)
                except Exception as exc:
                    ex.report("close" if isinstance(ex, SpoutExecutor) else "cleanup", exc)
