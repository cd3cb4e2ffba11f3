"""The topology master: Storm's Nimbus for one topology, as a detached named Ray actor.

``squall submit`` creates it as ``master`` in the namespace ``squall.<topology name>``, detached (it
outlives the submitter, as ``storm jar`` does) and restarted by Ray if its process dies
(``max_restarts=-1``: Ray passes the same constructor arguments again, the ``Submission``). Its
constructor starts the local ``Coordinator`` in a thread, with a ``RayLauncher`` (workers are
detached actors of the same namespace) and the keys the submitter generated; the control socket
binds the master's node address. The UI (``UiServer``) binds ``squall.ui.host`` on that node.

Its methods are the control surface the CLI reaches through Ray (``client.py``): ``info`` (state, UI
address, token), ``api`` (the REST API's answers, computed here: ``squall stats`` needs no route to the
UI's port), ``statistics``, ``activate``, ``deactivate``, ``kill``, ``logs``, ``ui_url``. When the
run ends (``kill``: at once; otherwise after ``LINGER_SECS``, so that its end can be read) it removes
its worker actors and itself.

A restarted master (its process died; Ray starts it again with the same argument) re-attaches: it
finds each index's newest worker actor by name, reads the record the workers hold (written to all
of them on every change: active or not), binds a new control socket and tells each worker to connect
there (``reconnect``); the workers never stopped, so tuples kept flowing meanwhile. A worker that died
meanwhile is restarted as usual. Counters of incarnations that ended before the restart are not kept.

A rebalance (``rebalance(n, wait)``, Storm's) stops the run as a kill does (spouts deactivated, in-flight
trees drained, every worker actor stopped) and runs the same topology on ``n`` workers under a new
coordinator: the same task ids (``make_plan``), so fields grouping sends each key to the same task; keys
for new indices derived from the run's (``RunKeys.extended``); the record then says ``n`` (a restarted
master keeps it). Bolts' in-memory state and the counters so far start over, as in Storm when an
executor moves.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from squall.cluster.launcher import RayLauncher
from squall.cluster.worker_actor import node_address, parse_worker_name, setup_logging
from squall.transport.security import RunKeys

log = logging.getLogger("squall.cluster")

MASTER_NAME = "master"
NAMESPACE_PREFIX = "squall."
LINGER_SECS = 60.0  # after a run that was not killed ended: its final state stays readable this long


def namespace_of(topology_name: str) -> str:
    return NAMESPACE_PREFIX + topology_name


def keys_to_dict(keys: RunKeys) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(keys).items()}


def keys_from_dict(d: dict[str, Any]) -> RunKeys:
    return RunKeys(
        str(d["server_public"]),
        str(d["server_secret"]),
        tuple(str(k) for k in d["worker_public"]),
        tuple(None if k is None else str(k) for k in d["worker_secret"]),
    )


@dataclass
class Submission:
    """What the submitter gives the master (its constructor argument, kept by Ray for restarts)."""

    ref: str  # the topology, relative to the working directory (``topologies/x.py:Class``, ``module:Class``)
    name: str  # topology.name
    topology_id: str
    overrides: dict[str, Any]  # the effective command-line config (topology.workers fixed by the submitter)
    keys: dict[str, Any]  # keys_to_dict(RunKeys)
    token: str  # the UI's token for POST actions
    sys_path: list[str] = field(default_factory=list)  # the project's folders, relative to the working directory
    # the job's runtime_env as submitted (working_dir, pip, env_vars): the master and the workers inherit it
    runtime_env: dict[str, Any] = field(default_factory=dict)
    log_level: str = "INFO"
    ui_host: str | None = None
    ui_port: int | None = None
    submitted: float = field(default_factory=time.time)

    @property
    def namespace(self) -> str:
        return namespace_of(self.name)


def worker_options(conf: dict[str, Any]) -> dict[str, Any]:
    """Ray actor options of the worker actors from the topology's config (``squall.cluster.worker.*``)."""
    options: dict[str, Any] = {"num_cpus": conf.get("squall.cluster.worker.cpus", 1)}
    resources = conf.get("squall.cluster.worker.resources")
    if resources:
        options["resources"] = dict(resources)
    return options


class TopologyMaster:
    """The master actor's class (``ray.remote`` is applied by ``client.master_class``)."""

    def __init__(self, submission: dict[str, Any]):
        self.sub = Submission(**submission)
        self.coord: Any = None
        self.ui: Any = None
        self.error = ""
        self.ended = threading.Event()
        self.killed = threading.Event()  # kill() was called: the master goes as soon as the run ends
        self.restarted = False
        self.attached: dict[int, Any] = {}  # a restarted master: the worker actors it re-attached to
        self.record_version = 0.0
        self.workers: int | None = None  # the workers asked for after a rebalance (None: the submitted count)
        self.incarnations: dict[int, int] = {}  # each index's newest incarnation (a new coordinator goes on)
        self.rebalance_to: int | None = None  # a rebalance under way: to this many workers
        self.rebalance_active = True  # whether the topology was active when its rebalance began
        self.rebalance_began = 0.0
        self.rebalances = 0  # rebalances asked so far
        self.rebalance_stopped = 0.0
        self.last_rebalance: dict[str, Any] = {}
        setup_logging()
        self.thread = threading.Thread(target=self._main, name="squall-master", daemon=True)
        self.thread.start()

    # -- the run, in its thread ------------------------------------------------------------------
    def _main(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # a master that cannot run says why (info()), then ends
            log.exception("the topology master failed")
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._end()

    def _run(self) -> None:
        """Run the topology: one coordinator, then a new one after each rebalance (``rebalance``)."""
        import ray

        sub = self.sub
        for entry in reversed(sub.sys_path):
            path = os.path.join(os.getcwd(), entry)
            if path not in sys.path:
                sys.path.insert(0, path)
        self.restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)
        attach, record = self._find_workers() if self.restarted else (None, {})
        self.record_version = float(record.get("version", 0.0))
        self.workers = int(record.get("workers") or 0) or None
        active = record.get("active") is not False
        if self.restarted:
            log.warning("the master was restarted: re-attaching to its running workers (record %s)", record)
            if attach is not None and self.workers:  # a rebalance's record: other indices are not the plan's
                attach = {i: v for i, v in attach.items() if i < self.workers}
        storm_id: str | None = None
        while True:
            coord = self._coordinator(attach, storm_id)
            if not active and attach is None:  # a rebalance of an inactive topology: its spouts never start
                coord.deactivated = True
            elif not active:  # re-attached to running workers: tell them again
                coord.deactivate()
            asked = self.rebalances  # a rebalance asked of this coordinator makes this loop go on
            self._serve(coord)
            if self.killed.is_set():  # killed while it was being rebalanced
                coord.kill(0.0)
            if self.rebalance_to is not None:  # a rebalance's coordinator: record it once it runs
                threading.Thread(target=self._rebalanced, args=(coord, active), daemon=True).start()
            coord.run()
            self.rebalance_stopped = time.monotonic() - self.rebalance_began  # a rebalance: drained and stopped
            self._note_incarnations(coord)
            if self.rebalances == asked or self.killed.is_set():  # it ended by itself, or was killed
                return
            attach, storm_id, self.workers = None, str(coord.conf["storm.id"]), self.rebalance_to
            active = self.rebalance_active

    def _coordinator(self, attach: dict[int, tuple[Any, int]] | None, storm_id: str | None) -> Any:
        """A coordinator for ``self.workers`` workers (None: the submitted count), its launcher's
        incarnations continuing from the previous coordinator's (new actor names, nothing waits)."""
        from squall.local.coordinator import Coordinator

        sub = self.sub
        ip, _node = node_address()
        overrides = dict(sub.overrides, **{"squall.bind.host": ip, "squall.advertise.host": ip})
        if self.workers:
            overrides["topology.workers"] = self.workers
        if storm_id:
            overrides["storm.id"] = storm_id  # Storm's storm.id stays the topology's through a rebalance
        launcher = RayLauncher(sub.namespace, None, sub.sys_path)  # the master's runtime_env is inherited
        coord = Coordinator(
            sub.ref,
            overrides,
            launcher=launcher,
            log_level=sub.log_level,
            handle_signals=False,
            keys=keys_from_dict(sub.keys).extended(self.workers or 0),
            attach=attach,
            on_bound=self._reconnect_workers,
        )
        coord.topology_id = sub.topology_id
        if attach is None:
            coord.incarnation.update({i: n for i, n in self.incarnations.items() if i < coord.plan.num_workers})
        launcher.options.update(worker_options(coord.conf))
        return coord

    def _serve(self, coord: Any) -> None:
        """Make ``coord`` the one the control surface and the UI show (the UI starts with the first)."""
        from squall.ui.history import History
        from squall.ui.server import DEFAULT_PORT, UiServer

        sub = self.sub
        self.coord = coord
        if self.ui is not None:  # after a rebalance: the same UI and token, the new run's counters
            self.ui.coordinator = coord
            self.ui.view.coordinator = coord
            self.ui.view.history = History()
            return
        port = sub.ui_port if sub.ui_port is not None else coord.conf.get("squall.ui.port")
        self.ui = UiServer(
            coord,
            host=sub.ui_host or coord.conf.get("squall.ui.host") or "127.0.0.1",
            port=DEFAULT_PORT if port is None else int(port),
            scan=port is None,
            token=sub.token,
            topology_id=sub.topology_id,
        )
        self.ui.view.started = sub.submitted
        self.ui.view.rebalancer = self._rebalance  # POST /api/v1/topology/:id/rebalance/:wait (Storm's)
        self.ui.start()
        log.info("topology %s (id %s): UI at %s", sub.name, sub.topology_id, self.ui.url)

    def _note_incarnations(self, coord: Any) -> None:
        for index, inc in coord.incarnation.items():
            self.incarnations[index] = max(inc, self.incarnations.get(index, -1))

    # -- rebalance -------------------------------------------------------------------------------
    def rebalance(self, workers: int, wait: float = 0.0) -> dict[str, Any]:
        """Storm's rebalance: deactivate the spouts now; after ``wait`` s stop the run (in-flight trees
        drained within squall.drain.timeout.secs, every worker actor stopped), then run the same topology
        on ``workers`` workers (same task ids: fields grouping keeps each key's task) and restore its
        activation. Returns at once; ``info()["rebalancing"]`` is false again once it runs."""
        return self.api("rebalance", workers, wait)

    def _rebalance(self, workers: Any, wait: Any) -> dict[str, Any]:
        from squall.ui import api

        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"rebalance: numWorkers must be a whole number >= 1, not {workers!r}")
        if not float(wait) >= 0.0:
            raise ValueError(f"rebalance: the wait must be a number of seconds >= 0, not {wait!r}")
        coord = self.coord
        if coord is None:
            raise api.Conflict(f"topology {self.sub.name} is starting: try again in a moment")
        snap = coord.statistics()
        if self.rebalance_to is not None:
            raise api.Conflict(f"topology {self.sub.name} is already being rebalanced (to {self.rebalance_to})")
        if snap.state.value not in ("active", "inactive") or self.killed.is_set() or self.ui.view.kill_requested:
            raise api.Conflict(f"cannot rebalance topology {self.sub.name}: it is {snap.state.value}")
        workers = min(workers, len(coord.plan.task_component) - len(coord.plan.acker_tasks))  # as make_plan does
        self._check_cpus(coord, workers)
        log.info("rebalancing topology %s to %d worker(s) in %gs", self.sub.name, workers, float(wait))
        self.rebalance_to, self.rebalance_active = workers, snap.state.value == "active"
        self.rebalance_began = time.monotonic()
        self.rebalances += 1
        coord.deactivate()
        timer = threading.Timer(float(wait), coord.request_stop, ("rebalance",))
        timer.daemon = True
        timer.start()
        return {
            "topologyOperation": "rebalance",
            "topologyId": self.sub.topology_id,
            "status": "success",
            "numWorkers": workers,
            "waitSecs": float(wait),
        }

    def _check_cpus(self, coord: Any, workers: int) -> None:
        """Refuse a rebalance whose workers would not fit in the cluster's CPUs (free ones and those of the
        workers it stops), rather than stopping the topology for workers Ray can never start."""
        import ray

        from squall.ui import api

        each = float(worker_options(coord.conf)["num_cpus"])
        available = ray.available_resources()  # type: ignore[no-untyped-call]  # untyped in Ray
        free = float(available.get("CPU", 0.0)) + each * len(coord.handles)
        if each * workers > free + 1e-9:
            raise api.Conflict(
                f"cannot rebalance topology {self.sub.name} to {workers} workers: they need {each * workers:g} CPUs "
                f"(squall.cluster.worker.cpus={each:g} each) and the cluster has {free:g} for them (`ray status`): "
                "add nodes or ask for fewer workers"
            )

    def _rebalanced(self, coord: Any, active: bool) -> None:
        """Once the rebalance's coordinator runs: write the record (a restarted master keeps N), done."""
        snap = coord.statistics()
        while snap.state.value == "starting":
            snap = coord.wait_statistics(snap, timeout=1.0)
        took = time.monotonic() - self.rebalance_began
        if not snap.state.final:
            self._write_record(active)
            log.info("rebalanced to %d worker(s) in %.1fs", coord.plan.num_workers, took)
        self.last_rebalance = {
            "workers": coord.plan.num_workers,
            "secs": round(took, 2),  # from the request to the new workers running
            "stopped_secs": round(self.rebalance_stopped, 2),  # from the request to the old workers stopped
            "state": snap.state.value,
        }
        self.rebalance_to = None

    def _worker_actors(self) -> dict[int, tuple[int, str]]:
        """The newest worker actor of each index in this namespace: index -> (incarnation, name)."""
        import ray

        newest: dict[int, tuple[int, str]] = {}
        for entry in ray.util.list_named_actors(all_namespaces=True):
            if entry.get("namespace") != self.sub.namespace:
                continue
            parsed = parse_worker_name(str(entry.get("name")))
            if parsed is not None and parsed[1] > newest.get(parsed[0], (-1, ""))[0]:
                newest[parsed[0]] = (parsed[1], str(entry["name"]))
        return newest

    def _find_workers(self) -> tuple[dict[int, tuple[Any, int]], dict[str, Any]]:
        """A restarted master's view of the running topology: a handle on each index's newest worker
        actor (waiting on its ``join``: the ``run`` call died with the old master), and the newest record
        the workers hold."""
        import ray

        from squall.cluster.launcher import RayWorkerHandle

        attach: dict[int, tuple[Any, int]] = {}
        records: list[dict[str, Any]] = []
        self.attached = {}
        for index, (inc, name) in self._worker_actors().items():
            try:
                actor: Any = ray.get_actor(name, namespace=self.sub.namespace)
                records.append(dict(ray.get(actor.get_record.remote(), timeout=10)))
            except (ValueError, ray.exceptions.RayError):  # gone, or its node is: started again
                attach[index] = (None, inc)
                continue
            self.attached[index] = actor
            attach[index] = (RayWorkerHandle(actor, actor.join.remote(), name), inc)
        record = max(records, key=lambda r: float(r.get("version", 0)), default={})
        return attach, record

    def _reconnect_workers(self, address: str) -> None:
        """Tell the re-attached workers where the control socket now is (they say hello there)."""
        for actor in getattr(self, "attached", {}).values():
            actor.reconnect.remote(address)

    def _write_record(self, active: bool) -> None:
        """Replicate the mutable record (active or not, versioned) to every worker actor."""
        import ray

        self.record_version = max(time.time(), self.record_version + 1e-6)
        record = {
            "version": self.record_version,
            "active": active,
            "topology_id": self.sub.topology_id,
            "workers": self.workers,
        }
        for _inc, name in self._worker_actors().values():
            with contextlib.suppress(ValueError, ray.exceptions.RayError):
                ray.get_actor(name, namespace=self.sub.namespace).set_record.remote(record)

    def _remove_workers(self) -> dict[int, int]:
        """Kill this namespace's worker actors; the newest incarnation of each index."""
        import ray

        newest: dict[int, int] = {}
        for entry in ray.util.list_named_actors(all_namespaces=True):
            if entry.get("namespace") != self.sub.namespace:
                continue
            parsed = parse_worker_name(str(entry.get("name")))
            if parsed is None:
                continue
            index, inc = parsed
            newest[index] = max(inc, newest.get(index, -1))
            with contextlib.suppress(ValueError, ray.exceptions.RayError):
                ray.kill(ray.get_actor(entry["name"], namespace=self.sub.namespace), no_restart=True)
        return newest

    def _end(self) -> None:
        """After the run: stop the UI, remove any worker actor left, then this actor (unless restarted)."""
        import ray

        self.ended.set()
        self.killed.wait(LINGER_SECS)
        if self.ui is not None:
            self.ui.stop()
        self._remove_workers()
        log.info("topology %s (id %s) ended: removing the master", self.sub.name, self.sub.topology_id)
        try:
            ray.kill(ray.get_runtime_context().current_actor, no_restart=True)
        except ray.exceptions.RayError:
            os._exit(0)

    # -- the control surface (actor methods) -----------------------------------------------------
    def info(self) -> dict[str, Any]:
        """Name, id, state (the run's, ``starting`` before the coordinator exists), message, UI, token."""
        coord = self.coord
        snap = coord.statistics() if coord is not None else None
        state = snap.state.value if snap is not None else ("failed" if self.error else "starting")
        ip, node = node_address()
        return {
            "name": self.sub.name,
            "id": self.sub.topology_id,
            "namespace": self.sub.namespace,
            "state": state,
            "message": self.error or (snap.message if snap is not None else ""),
            "url": self.ui.url if self.ui is not None and self.ui.port else "",
            "token": self.sub.token,
            "started": self.sub.submitted,
            "node": node,
            "ip": ip,
            "pid": os.getpid(),
            "restarted": self.restarted,
            "ended": self.ended.is_set(),
            "workers": coord.plan.num_workers if coord is not None else 0,
            "rebalancing": self.rebalance_to is not None,
            "last_rebalance": self.last_rebalance,
            # checkpointed state: committed id, count, aborted, last (id, duration_ms, at...); {} without
            "checkpoints": dict(snap.checkpoints) if snap is not None else {},
        }

    def ui_url(self) -> str:
        return self.ui.url if self.ui is not None and self.ui.port else ""

    def statistics(self) -> dict[str, Any]:
        """The run's latest statistics snapshot, as plain data."""
        if self.coord is None:
            return {}
        data: dict[str, Any] = self.coord.statistics().to_dict()
        return data

    def api(self, what: str, *args: Any) -> dict[str, Any]:
        """The REST API's answer ``what`` (``topology_page``, ``workers_page``, ``kill``...), computed here;
        an error as ``{"__error__": status, "message": ...}`` (404 unknown, 409 conflict, 400 bad value)."""
        from squall.ui import api
        from squall.ui.history import parse_window

        if what == "kill" and (self.ui is None or self.ended.is_set()):  # not running: just go
            self.killed.set()
            return {"topologyOperation": "kill", "topologyId": self.sub.topology_id, "status": "success"}
        if self.ui is None:
            return {"__error__": 503, "message": f"topology {self.sub.name} is starting: try again in a moment"}
        view = self.ui.view
        calls: dict[str, Callable[..., dict[str, Any]]] = {
            "topology_summary": lambda: api.topology_summary(view),
            "topology": lambda window: api.topology_page(view, parse_window(window)),
            "component": lambda c, window: api.component_page(view, c, parse_window(window)),
            "workers": lambda: api.workers_page(view),
            "logs": lambda worker, after, limit: api.logs_page(view, worker, after, limit),
            "samples": lambda c, after: api.samples_page(view, c, after),
            "enable_sampling": lambda c, secs, stream: api.debug_enable(view, c, secs, stream),
            "activate": lambda: api.activate(view),
            "deactivate": lambda: api.deactivate(view),
            "kill": self._kill,
            "rebalance": self._rebalance,
        }
        if what not in calls:
            return {"__error__": 400, "message": f"no API call {what!r}"}
        try:
            result: dict[str, Any] = calls[what](*args)
            if what in ("activate", "deactivate"):
                self._write_record(what == "activate")
        except api.NotFound as exc:
            return {"__error__": 404, "message": str(exc)}
        except api.Conflict as exc:
            return {"__error__": 409, "message": str(exc)}
        except ValueError as exc:
            return {"__error__": 400, "message": str(exc)}
        return result

    def _kill(self, wait: float) -> dict[str, Any]:
        from squall.ui import api

        if self.rebalance_to is not None:  # between two coordinators: the loop ends the run (_run)
            self.ui.view.kill_requested = True
            self.killed.set()
            self.coord.kill(float(wait))
            return {"topologyOperation": "kill", "topologyId": self.sub.topology_id, "status": "success"}
        answer = api.kill(self.ui.view, float(wait))
        self.killed.set()
        return answer

    def activate(self) -> dict[str, Any]:
        return self.api("activate")

    def deactivate(self) -> dict[str, Any]:
        return self.api("deactivate")

    def where(self) -> dict[str, Any]:
        """The node this master runs on, its pid, whether it was restarted (for tests and diagnostics)."""
        ip, node = node_address()
        return {"ip": ip, "node_id": node, "pid": os.getpid(), "restarted": self.restarted}

    def kill(self, wait: float = 0.0) -> dict[str, Any]:
        return self.api("kill", wait)

    def logs(self, worker: int | None = None, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        return self.api("logs", worker, after, limit)
