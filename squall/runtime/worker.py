"""A worker: hosts some tasks of a topology and moves tuples between them.

One thread runs a loop (``step``): take arrived batches from other workers, let spouts emit a
burst, drain local channels into their bolts (tuples passed by reference), flush remote
channels as one msgpack message per peer when a batch is full or the flush interval passed,
deliver tick tuples. The Worker knows nothing about who started it: ``squall.local.worker_process`` runs
it in a subprocess with a control socket, ``squall.testing`` runs it inside the caller. Test doubles
come in as ``hooks`` (``runtime.hooks.WorkerHooks``), never through the config.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from squall.runtime.acker import ACK_STREAM, CTL_STREAM, FAILED, SYSTEM_STREAMS, AckerExecutor
from squall.runtime.bolt_executor import BoltExecutor
from squall.runtime.error_log import ErrorLog
from squall.runtime.hooks import WorkerHooks
from squall.runtime.inbound import (
    DropLog,
    Malformed,
    check_ctl,
    check_int_pairs,
    check_ints,
    tracked_check,
    values_check,
)
from squall.runtime.router import Channel, Consumer, StreamRouter
from squall.runtime.spout_executor import SpoutExecutor
from squall.runtime.tuples import tuples_maker
from squall.topology.bolt import Bolt
from squall.topology.config import component_conf, runtime_settings
from squall.topology.context import TopologyContext
from squall.topology.grouping import make_picker
from squall.topology.plan import Plan, make_plan
from squall.topology.spec import ComponentDef
from squall.topology.stream import Stream
from squall.transport.base import Transport
from squall.transport.wire import encode_batch, find_unencodable, pack, split_groups, unpack

log = logging.getLogger("squall.runtime.worker")


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
        timeout = settings.message_timeout_secs
        self.rotate_secs = timeout / 2 if timeout is not None and self.tracking else float("inf")
        self.next_rotate = time.monotonic() + self.rotate_secs

    # -- setup ----------------------------------------------------------------------------------
    def tasks(self) -> list[int]:
        return self.plan.worker_tasks(self.index)

    def setup(self) -> None:
        """Create the local tasks' instances, wire their routers, call ``initialize``.

        Raises whatever ``initialize`` raises, with the component and task attached as a note.
        """
        max_pending = self.conf.get("topology.max.spout.pending")
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
            if comp.kind == "spout":
                ackers = self.plan.acker_tasks
                local = [i for i, a in enumerate(ackers) if self.plan.task_worker[a] == self.index]
                home = local[task % len(local)] if local else (task % len(ackers) if ackers else 0)
                ex = SpoutExecutor(
                    task,
                    comp.name,
                    instance,
                    routers,
                    self.errors,
                    ack_bufs=ack_bufs,
                    ctl_bufs=ctl_bufs,
                    max_pending=cconf.get("topology.max.spout.pending", max_pending),
                    home_acker=home,
                )
                self.spouts.append(ex)
            else:
                tick = cconf.get("topology.tick.tuple.freq.secs")
                ex = BoltExecutor(
                    task,
                    comp.name,
                    instance,
                    routers,
                    self.errors,
                    ack_bufs=ack_bufs,
                    ctl_bufs=ctl_bufs,
                    done_bufs=done_bufs,
                    tick_secs=tick or None,  # None or 0: no ticks
                )
                self.bolts[task] = ex
                self.next_tick = min(self.next_tick, ex.next_tick)
            self.executors[task] = ex
        for ch in self.local_channels:  # every sink exists now: bind each channel's delivery once
            ch.deliver = self._delivery(ch.dest_task, ch.src_task, ch.stream, ch.ids is not None)
        for task, ex in self.executors.items():
            if task in self.plan.acker_tasks:
                continue
            comp = self.components[ex.component]
            context = TopologyContext(self.name, task, self.components, self.plan, self.index)
            try:
                ex.instance.initialize(component_conf(self.conf, comp.config), context)
            except Exception as exc:
                exc.add_note(f"in {comp.name}.initialize() (task {task}, class {comp.class_ref})")
                raise

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
        return StreamRouter(comp.name, task, stream, consumers, capture=capture)

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
    def spouts_exhausted(self) -> bool:
        """Every local spout is exhausted and waits for no tree: not merely deactivated (it may resume)."""
        return all(s.exhausted and s.done for s in self.spouts)

    # -- the loop -------------------------------------------------------------------------------
    def step(self) -> int:
        """One turn of the loop; returns how much work it did (0 = idle)."""
        work = 0
        transport = self.transport
        if transport is not None:
            if transport.n_overflow:
                work += transport.retry()
            for payload in transport.recv_ready(32):
                work += self.on_message(payload)
        if self.spouts and not (transport is not None and transport.n_overflow):
            burst = self.burst_n
            for sp in self.spouts:
                if sp.active and not sp.exhausted:
                    work += sp.burst(burst)
        work += self.drain_local()
        if self.remote_channels:
            work += self.maybe_flush()
        now = time.monotonic()
        if now >= self.next_tick:
            self.deliver_ticks(now)
        if now >= self.next_rotate:
            self.next_rotate = now + self.rotate_secs
            for sp in self.spouts:
                sp.rotate()
            for a in self.ackers:
                a.rotate()
        if self.draining:
            for b in self.bolts.values():
                if b.instance._pending():
                    b.instance._flush_pending()
                    work += 1
        return work

    def drain_local(self, rounds: int = 8) -> int:
        total = 0
        for _ in range(rounds):
            moved = 0
            for ch in self.local_channels:
                if ch.buf:
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
                self._send(peer, groups, n)
        return sent

    def _send(self, peer: int, groups: list[Any], n: int) -> None:
        """Encode ``n`` tuples in ``groups`` for ``peer`` and send them: cut in several messages when the
        encoding passes ``squall.transfer.batch.bytes``; a tuple that alone passes
        ``squall.transfer.max.message.bytes`` is not sent (an EmitError, its tree failed).

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
                self._send_encoded(peer, first, k)
                rest = [g for part, _ in parts[1:] for g in part]
                if rest and self._guess(rest) <= 2 * limit:
                    self._send_encoded(peer, rest, n - k)
                else:
                    for part, k in parts[1:]:
                        self._send_encoded(peer, part, k)
                return
        self._send_encoded(peer, groups, n)

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

    def _send_encoded(self, peer: int, groups: list[Any], n: int) -> None:
        payload = self._encode(peer, groups)
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
                for part, k in parts:
                    self._send_encoded(peer, part, k)
                return
            if cap and size > cap:  # one tuple (or one system batch, which is never cut) too large to send
                self._too_large(groups[0], size)
                return
        self.transport.send(peer, payload)  # type: ignore[union-attr]

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

    def _encode(self, peer: int, groups: list[Any]) -> bytes:
        t = self.transport
        assert t is not None
        header = (self.index, t.incarnation, t.peer_inc[peer])
        try:
            return encode_batch(*header, groups)
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
        return encode_batch(*header, clean)

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
            or type(groups) is not tuple
        ):
            self.drops.drop(f"a batch with a bad header (sender {str(sender)[:40]})")
            return 1
        inbound = self.inbound
        ready = []
        try:
            for group in groups:  # (dest, src, stream, values) or, tracked, (dest, src, stream, values, ids)
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
        return check, self._delivery(dest, src, stream, tracked)

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
        """Nothing buffered here: local channels empty, remote flushed, no overflow, no held batches."""
        if any(ch.buf for ch in self.local_channels):
            return False
        if self.remote_channels and self.buffered_remote():
            return False
        if self.transport is not None and self.transport.n_overflow:
            return False
        return not any(isinstance(b.instance, Bolt) and b.instance._pending() for b in self.bolts.values())

    def queued(self) -> int:
        n = sum(len(ch.buf) for ch in self.local_channels) + self.buffered_remote()
        if self.transport is not None:
            n += self.transport.n_overflow * self.batch_size
        return n

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
            st.update(ex.stats())
            out[task] = st
        return out

    def close(self) -> None:
        """A graceful stop: Storm's ``close()`` for spouts and ``cleanup()`` for bolts, then sockets."""
        for ex in self.executors.values():
            hook = (
                getattr(ex.instance, "close" if isinstance(ex, SpoutExecutor) else "cleanup", None)
                if not isinstance(ex, AckerExecutor)
                else None
            )
            if hook is not None:
                try:
                    hook()
                except Exception as exc:
                    ex.report("close" if isinstance(ex, SpoutExecutor) else "cleanup", exc)
        if self.transport is not None:
            self.transport.close()
