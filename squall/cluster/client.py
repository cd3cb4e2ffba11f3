"""What the CLI calls to reach a Ray cluster: connect, submit, find the topology masters, call them.

The cluster is found as Ray's own tools find it: ``--address``, else ``$RAY_ADDRESS``. The token
(Ray's token authentication) comes from the user's environment, as Ray reads it (``RAY_AUTH_TOKEN``,
``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``); nothing here turns it off.

``RayClient`` has the methods of ``squall.ui.client.Client`` that the CLI uses, answered by the
master's ``api`` method through Ray (not over HTTP: the UI's port need not be reachable from here),
with the same errors.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from squall.cluster.master import MASTER_NAME, NAMESPACE_PREFIX, Submission, TopologyMaster
from squall.cluster.worker_actor import parse_worker_name
from squall.errors import ConfigError, InvalidTopologyError, Problem, SquallError
from squall.ui.client import (
    AmbiguousTopologyError,
    ApiError,
    ApiNotFoundError,
    TopologyNotFoundError,
    UnreachableError,
)
from squall.ui.registry import Entry

log = logging.getLogger("squall.cluster")

ADDRESS_ENV = "RAY_ADDRESS"
SUBMIT_TIMEOUT = 180.0  # seconds for a submitted topology to report itself running


class ClusterError(SquallError):
    """The Ray cluster cannot be reached, or refused what was asked."""


def address_of(address: str | None) -> str | None:
    """The cluster's address: ``--address``, else ``$RAY_ADDRESS``; None: neither is given."""
    return address or os.environ.get(ADDRESS_ENV) or None


RAY_DEFAULT_PORT = 6379


def nimbus_address(env_name: str | None, settings: dict[str, Any], config_file: str) -> str | None:
    """The Ray address a streamparse environment names (its ``nimbus``, as ``sparse submit -e`` reads
    it): ``host:port``, or ``host`` alone on Ray's default port; None when it names none (empty)."""
    nimbus = settings.get("nimbus")
    if nimbus is None or nimbus == "":
        return None
    if not isinstance(nimbus, str) or not nimbus.strip():
        raise ConfigError(
            f'{config_file}: envs.{env_name}.nimbus must be the Ray head\'s "host:port" (e.g. "head:6379"), '
            f"not {nimbus!r}"
        )
    nimbus = nimbus.strip()
    host = nimbus.split("://", 1)[-1]
    has_port = "]:" in host if host.startswith("[") else ":" in host
    return nimbus if has_port else f"{nimbus}:{RAY_DEFAULT_PORT}"


def driver_node(ray: Any) -> str | None:
    """The Ray node this driver (``squall submit``) is attached to (the head, when it runs there)."""
    try:
        return str(ray.get_runtime_context().get_node_id())
    except Exception:  # an old or Ray Client driver: no node of its own, the master goes where Ray puts it
        return None


LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def is_loopback_address(address: str) -> bool:
    """``127.x.y.z:port`` or ``localhost:port`` (with or without ``ray://``)."""
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]").lower()
    return host == "localhost" or host.startswith("127.") or host == "::1"


def ray_module() -> Any:
    """``ray``, or a clear error naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise ConfigError("cluster mode needs Ray, which is not installed: pip install 'squall[ray]'") from None
    return ray


def connect(address: str, runtime_env: dict[str, Any] | None = None) -> Any:
    """Connect this process to the Ray cluster at ``address`` as a driver (once); returns ``ray``.

    ``runtime_env``: the job's (``squall submit``: the project folder as working_dir, uploaded here:
    Ray uploads local folders only for a job); the master and its workers inherit it."""
    if is_loopback_address(address):
        # Ray rewrites a loopback address to the machine's network address (a head bound to 127.0.0.1,
        # as --local-ray starts it, is then unreachable); this keeps it on 127.0.0.1
        # (../shared/reference/peers-and-ray.md, 4(b))
        os.environ.setdefault(LOOPBACK_ENV, "0")
    if (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")) and not os.environ.get(
        "RAY_AUTH_MODE"
    ):
        os.environ["RAY_AUTH_MODE"] = "token"  # a token given is a token used (Ray uses a file's by itself)
    ray = ray_module()
    if ray.is_initialized():
        return ray
    try:
        ray.init(
            address=address,
            runtime_env=runtime_env or None,
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    except Exception as exc:  # ConnectionError, AuthenticationError...: say which cluster and what to check
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(
            f"cannot connect to the Ray cluster at {address}: {first} (check the address, that the cluster "
            "is up (`ray status`), and that its token is in RAY_AUTH_TOKEN or ~/.ray/auth_token)"
        ) from None
    return ray


@functools.cache
def master_class() -> Any:
    return ray_module().remote(TopologyMaster)


def master_options(submission: Submission, resources: dict[str, Any] | None, near: str | None = None) -> dict[str, Any]:
    """The master actor's options. ``near``: the submitting driver's node, where the master is put (soft:
    elsewhere if that node cannot take it), so that its UI is on the node that submitted (the head, in
    ``deploy/``); by default Ray put 1-5 of 8 such actors there (docs/cluster.md, "What slice 5 built")."""
    options: dict[str, Any] = {
        "name": MASTER_NAME,
        "namespace": submission.namespace,
        "lifetime": "detached",
        "max_restarts": -1,
        "max_task_retries": 0,
        "max_concurrency": 8,  # control calls from several clients while the coordinator's thread runs
        "num_cpus": 0,
    }
    if resources:
        options["resources"] = dict(resources)
    if near:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=near, soft=True)
        # Ray 2.60 honoured soft affinity only for an actor that requests some resource: with nothing
        # requested, 1-5 of 8 masters landed on the driver's node; with 1 byte of memory (logical, nothing
        # is reserved in fact), 8 of 8 (bench/ray/master_affinity.py, docs/cluster.md "What slice 5 built")
        options["memory"] = 1
    return options


def masters(ray: Any) -> list[tuple[str, Any]]:
    """Every topology master on the cluster: (namespace, actor handle)."""
    out = []
    for entry in ray.util.list_named_actors(all_namespaces=True):
        ns = str(entry.get("namespace") or "")
        if entry.get("name") == MASTER_NAME and ns.startswith(NAMESPACE_PREFIX):
            try:
                out.append((ns, ray.get_actor(MASTER_NAME, namespace=ns)))
            except ValueError:  # gone meanwhile
                continue
    return out


def namespace_actors(ray: Any, namespace: str) -> list[str]:
    """The names of the live named actors of ``namespace`` (a topology's master and workers)."""
    return sorted(
        str(e.get("name")) for e in ray.util.list_named_actors(all_namespaces=True) if e.get("namespace") == namespace
    )


def info_of(ray: Any, handle: Any, timeout: float = 10.0) -> dict[str, Any]:
    try:
        info: dict[str, Any] = ray.get(handle.info.remote(), timeout=timeout)
    except Exception as exc:
        raise UnreachableError(f"the topology master does not answer ({type(exc).__name__}: {exc})") from None
    return info


def entry_of(info: dict[str, Any]) -> Entry:
    return Entry(
        id=str(info["id"]),
        name=str(info["name"]),
        pid=0,
        url=str(info.get("url") or ""),
        token=str(info.get("token") or ""),
        started=float(info.get("started") or 0.0),
    )


def cluster_topologies(ray: Any) -> list[tuple[dict[str, Any], Any]]:
    """(info, master handle) of every topology on the cluster whose master answers."""
    out = []
    for ns, handle in masters(ray):
        try:
            out.append((info_of(ray, handle, timeout=5.0), handle))
        except UnreachableError:
            out.append(
                ({"name": ns[len(NAMESPACE_PREFIX) :], "id": "", "namespace": ns, "state": "unreachable"}, handle)
            )
    return out


def resolve(ray: Any, name: str | None) -> tuple[Entry, RayClient]:
    """The one cluster topology ``name`` (its name or id; None: the only one) means, and its client."""
    found = cluster_topologies(ray)
    chosen = found if name is None else [(i, h) for i, h in found if name in (i.get("id"), i.get("name"))]
    if len(chosen) == 1:
        info, handle = chosen[0]
        if not info.get("id"):
            raise UnreachableError(f"the master of topology {info['name']} does not answer: try again in a moment")
        return entry_of(info), RayClient(ray, handle, info)
    running = ", ".join(f"{i['name']} (id {i.get('id')})" for i, _ in found) or "none"
    if not chosen:
        what = "no topologies" if name is None else f"no topology named {name!r}"
        raise TopologyNotFoundError(f"{what} on the Ray cluster (running there: {running})")
    raise AmbiguousTopologyError(f"{len(chosen)} topologies on the Ray cluster: name one (running there: {running})")


class RayClient:
    """One cluster topology's REST answers, through its master actor (``squall.ui.client.Client``'s methods)."""

    def __init__(self, ray: Any, handle: Any, info: dict[str, Any], timeout: float = 30.0):
        self.ray = ray
        self.handle = handle
        self.info = info
        self.timeout = timeout
        self.url = str(info.get("url") or "")
        self.token = str(info.get("token") or "")

    def call(self, what: str, *args: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = self.ray.get(self.handle.api.remote(what, *args), timeout=self.timeout)
        except Exception as exc:
            raise UnreachableError(
                f"the master of topology {self.info.get('name')} does not answer ({type(exc).__name__}): it may be "
                "restarting or gone; `squall list --address ...` shows what runs"
            ) from None
        status = answer.get("__error__") if isinstance(answer, dict) else None
        if status is not None:
            message = f"{what}: {status} {answer.get('message', '')}"
            if status == 404:
                raise ApiNotFoundError(message, int(status))
            if status == 503:
                raise UnreachableError(message)
            raise ApiError(message, int(status))
        return answer

    def topology_summary(self) -> list[dict[str, Any]]:
        return list(self.call("topology_summary").get("topologies", []))

    def topology(self, topology_id: str, window: str = "600") -> dict[str, Any]:
        return self.call("topology", window)

    def component(self, topology_id: str, component: str, window: str = "600") -> dict[str, Any]:
        return self.call("component", component, window)

    def workers(self, topology_id: str) -> list[dict[str, Any]]:
        return list(self.call("workers").get("workers", []))

    def logs(self, topology_id: str, worker: int | None = None, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        return self.call("logs", worker, after, limit)

    def samples(self, topology_id: str, component: str, after: int = 0) -> dict[str, Any]:
        return self.call("samples", component, after)

    def enable_sampling(
        self, topology_id: str, component: str, secs: float, stream: str | None = None
    ) -> dict[str, Any]:
        return self.call("enable_sampling", component, secs, stream)

    def activate(self, topology_id: str) -> dict[str, Any]:
        return self.call("activate")

    def deactivate(self, topology_id: str) -> dict[str, Any]:
        return self.call("deactivate")

    def kill(self, topology_id: str, wait: float) -> dict[str, Any]:
        return self.call("kill", wait)

    def rebalance(self, workers: int, wait: float = 0.0) -> dict[str, Any]:
        """Storm's rebalance to ``workers`` workers (returns once it began: ``wait_rebalanced``)."""
        return self.call("rebalance", workers, wait)

    def wait_rebalanced(self, workers: int, timeout: float) -> dict[str, Any]:
        """Wait until the rebalance is over (the master's ``info()`` says ``rebalancing`` false and the
        run is on ``workers`` workers, or ended); that ``info()``. ``UnreachableError`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        info: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                info = info_of(self.ray, self.handle, timeout=10.0)
            except UnreachableError:  # restarting: ask again
                time.sleep(0.5)
                continue
            if not info.get("rebalancing") and (info.get("workers") == workers or info.get("ended")):
                return info
            time.sleep(0.2)
        raise UnreachableError(
            f"topology {self.info.get('name')} was not rebalanced within {timeout:g}s (state {info.get('state')}, "
            f"{info.get('workers')} worker(s)): `squall stats {self.info.get('name')} --address ...` shows it"
        )

    def wait_gone(self, timeout: float) -> bool:
        """Wait until the topology's master and workers are all gone (at most ``timeout`` s)."""
        namespace = str(self.info["namespace"])
        deadline = time.monotonic() + timeout
        while namespace_actors(self.ray, namespace):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.25)
        return True


def remove(ray: Any, namespace: str) -> None:
    """Kill every named actor of ``namespace`` (a topology that failed to start: its master, any worker)."""
    for name in namespace_actors(ray, namespace):
        try:
            ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)
        except (ValueError, ray.exceptions.RayError):
            continue


def submit(
    ray: Any,
    submission: Submission,
    master_resources: dict[str, Any] | None = None,
    timeout: float = SUBMIT_TIMEOUT,
) -> dict[str, Any]:
    """Create the topology's master and wait until it reports the topology running; its ``info()``.

    Refuses a name already running on the cluster (Storm does too). A topology that fails to start is
    removed, and its message raised."""
    ns = submission.namespace
    if any(n == MASTER_NAME for n in namespace_actors(ray, ns)):
        raise ClusterError(
            f"a topology named {submission.name!r} is already running on this cluster: kill it first "
            f"(squall kill {submission.name} --address ...) or submit under another name (--name)"
        )
    leftovers = [n for n in namespace_actors(ray, ns) if parse_worker_name(n) is not None]
    if leftovers:  # workers of an earlier run whose master is gone
        remove(ray, ns)
    near = driver_node(ray)
    options = master_options(submission, master_resources, near)
    handle = master_class().options(**options).remote(asdict(submission))
    deadline = time.monotonic() + timeout
    info: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            info = ray.get(handle.info.remote(), timeout=max(1.0, deadline - time.monotonic()))
        except Exception as exc:
            remove(ray, ns)
            raise ClusterError(f"the topology master could not start: {type(exc).__name__}: {exc}") from None
        if info["state"] in ("active", "inactive"):
            return dict(info, driver_node=near)
        if info["state"] in ("failed", "completed", "stopped", "killed") or info.get("ended"):
            remove(ray, ns)
            raise ClusterError(f"topology {submission.name} did not start: {info.get('message') or info['state']}")
        time.sleep(0.2)
    remove(ray, ns)
    raise ClusterError(
        f"topology {submission.name} was not running after {timeout:g}s (state {info.get('state')}): removed; "
        "the cluster may lack free CPUs for its workers (`ray status`)"
    )


STATE_FIX = "-c topology.state.provider=redis -c topology.state.redis.url=redis://HOST:6379/0"


def _stateful(components: Mapping[str, Any]) -> list[str]:
    """The topology's StatefulBolts (by name): it checkpoints state when there is one."""
    from squall.topology.stateful_bolt import is_stateful

    return [name for name, d in components.items() if is_stateful(d.cls)]


def check_state_backend(topology: str, conf: Mapping[str, Any], components: Mapping[str, Any]) -> None:
    """Refuse a checkpointed topology whose state backend the nodes cannot share: SQLite is a file on
    one machine's disk, and a worker restarted on another node would find no state there (or another
    run's): on a cluster the checkpoints go to Redis, which every node reaches (docs/cluster.md)."""
    stateful = _stateful(components)
    provider = str(conf.get("topology.state.provider") or "sqlite")
    if stateful and provider == "sqlite":
        raise InvalidTopologyError(
            topology,
            [
                Problem(
                    stateful[0],
                    "the topology checkpoints state (a StatefulBolt) with topology.state.provider=sqlite, a file "
                    "on one node's disk: the nodes of a cluster do not share one, so a worker restarted on another "
                    "node would lose the state",
                    f"keep the checkpoints in a Redis every node reaches: {STATE_FIX}",
                )
            ],
        )


def check_state_reach(ray: Any, topology: str, conf: Mapping[str, Any], components: Mapping[str, Any]) -> None:
    """Refuse a Redis state URL on a loopback address when the cluster's nodes are on several hosts:
    each node would reach a different Redis (its own, or none). One host (a cluster on one machine,
    ``--local-ray``) is fine."""
    if not _stateful(components) or str(conf.get("topology.state.provider")) != "redis":
        return
    from squall.state.redis import DEFAULT_URL, redacted

    url = str(conf.get("topology.state.redis.url") or DEFAULT_URL)
    if not is_loopback_address(f"{urlsplit(url).hostname or ''}:0"):
        return
    hosts = sorted({str(n.get("NodeManagerAddress")) for n in ray.nodes() if n.get("Alive")})
    if len(hosts) > 1:
        raise ConfigError(
            f"topology {topology}: topology.state.redis.url={redacted(url)} is this machine's own address, but the "
            f"cluster's nodes are on {len(hosts)} hosts ({', '.join(hosts[:4])}): each would reach another Redis "
            f"-> name a Redis every node reaches: {STATE_FIX}"
        )


def start_local_ray() -> str:
    """Start (or reuse) a Ray head on 127.0.0.1 with token authentication; its address. It stays up
    until ``ray stop``."""
    exe = shutil.which("ray")
    if exe is None:
        raise ConfigError("--local-ray needs Ray's `ray` command: pip install 'squall[ray]'")
    os.environ["RAY_AUTH_MODE"] = os.environ.get("RAY_AUTH_MODE") or "token"  # this driver's too
    if os.environ["RAY_AUTH_MODE"] == "disabled":
        raise ConfigError("--local-ray keeps Ray's token authentication on: unset RAY_AUTH_MODE=disabled")
    env = dict(os.environ)
    os.environ.setdefault(LOOPBACK_ENV, "0")  # a single-node head on 127.0.0.1 only, and this driver too
    env.setdefault(LOOPBACK_ENV, "0")
    has_token = env.get("RAY_AUTH_TOKEN") or env.get("RAY_AUTH_TOKEN_PATH")
    if not has_token and not os.path.exists(os.path.expanduser("~/.ray/auth_token")):
        made = subprocess.run([exe, "get-auth-token", "--generate"], env=env, capture_output=True, check=False)
        if made.returncode != 0:  # ~/.ray/auth_token, 0600: what `ray start` and every driver here read
            raise ClusterError(f"`ray get-auth-token --generate` failed: {made.stderr.decode().strip()[-300:]}")
    status = subprocess.run(
        [exe, "status", "--address", "127.0.0.1:6379"], env=env, capture_output=True, text=True, check=False
    )
    if status.returncode == 0:
        return "127.0.0.1:6379"
    started = subprocess.run(
        [exe, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", "6379", "--disable-usage-stats"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if started.returncode != 0:
        said = (started.stderr or started.stdout).strip().splitlines()
        raise ClusterError(f"`ray start --head` failed: {said[-1] if said else started.returncode}")
    return "127.0.0.1:6379"
