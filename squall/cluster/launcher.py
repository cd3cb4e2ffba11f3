"""``RayLauncher``: the coordinator's ``Launcher`` (``local/launcher.py``) on a Ray cluster.

Each worker is a ``WorkerActor``, detached and named ``worker-<index>.<incarnation>`` in the
topology's namespace, with Ray's restarts and retries off, spread over the nodes. ``RayWorkerHandle``
is the ``WorkerHandle`` on it: ``poll`` looks at the pending ``run`` call without blocking. An actor
whose node is gone makes that call fail (``ActorUnavailableError`` after ~2 s, measured): the handle
reports it dead (status 1) and ``ray.kill``s it so that it cannot come back; the coordinator then starts
the next incarnation under its new name (docs/cluster.md, section 2).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any

from squall.cluster.worker_actor import WorkerActor, worker_name

log = logging.getLogger("squall.cluster")

DEAD = 1  # the exit status of a worker whose actor died without returning one


@functools.cache
def actor_class() -> Any:
    """``WorkerActor`` as a Ray actor class (``ray`` imported here, on first use)."""
    import ray

    return ray.remote(WorkerActor)


class RayWorkerHandle:
    """The coordinator's handle on one worker actor and its pending ``run`` call."""

    pid = 0  # on another machine: the worker's hello carries its host

    def __init__(self, actor: Any, run_ref: Any, name: str):
        self.actor = actor
        self.ref = run_ref
        self.name = name
        self.code: int | None = None

    def _end(self, code: int) -> int:
        """The worker ended: remember how, and remove its actor (a detached actor outlives its call)."""
        self.code = code
        self.kill()
        return code

    def poll(self) -> int | None:
        if self.code is not None:
            return self.code
        import ray

        ready, _ = ray.wait([self.ref], timeout=0)
        if not ready:
            return None
        try:
            result = ray.get(self.ref, timeout=0)
        except ray.exceptions.RayTaskError as exc:  # run() raised: its traceback says why (its output is in a ring)
            log.error("worker actor %s failed: %s", self.name, exc)
            return self._end(DEAD)
        except ray.exceptions.RayError as exc:  # died with its node, killed, unavailable: dead to us
            log.warning("worker actor %s is gone: %s", self.name, str(exc).splitlines()[0] if str(exc) else exc)
            return self._end(DEAD)
        return self._end(int(result) if isinstance(result, int) else DEAD)

    def terminate(self) -> None:
        import ray

        with contextlib.suppress(ray.exceptions.RayError):
            self.actor.stop.remote()

    def kill(self) -> None:
        import ray

        with contextlib.suppress(ray.exceptions.RayError, ValueError):
            ray.kill(self.actor, no_restart=True)

    def wait(self, timeout: float | None = None) -> int:
        import ray

        if self.code is None:
            ready, _ = ray.wait([self.ref], timeout=timeout)
            if not ready:
                raise TimeoutError(f"worker actor {self.name} did not end within {timeout}s")
        code = self.poll()
        assert code is not None
        return code


class RayLauncher:
    """Starts workers as detached actors in ``namespace`` (the topology's), with ``runtime_env`` (the
    project folder as working_dir, pip packages, environment variables). ``sys_path`` are the project's
    folders relative to that working directory (each node unpacks it somewhere else). ``options`` are
    extra actor options (``num_cpus``, ``resources``...)."""

    def __init__(
        self,
        namespace: str,
        runtime_env: dict[str, Any] | None = None,
        sys_path: list[str] | None = None,
        options: dict[str, Any] | None = None,
    ):
        self.namespace = namespace
        self.runtime_env = runtime_env or {}
        self.sys_path = list(sys_path or [])
        self.options = {"num_cpus": 1, "scheduling_strategy": "SPREAD", **(options or {})}

    def start(self, index: int, spec: dict[str, Any]) -> RayWorkerHandle:
        name = worker_name(index, int(spec["incarnation"]))
        actor = (
            actor_class()
            .options(
                name=name,
                namespace=self.namespace,
                lifetime="detached",
                max_restarts=0,
                max_task_retries=0,
                max_concurrency=4,  # run() loops; stop(), join(), reconnect() and the record must reach it
                runtime_env=self.runtime_env or None,
                **self.options,
            )
            .remote()
        )
        ref = actor.run.remote(dict(spec, sys_path=self.sys_path))
        return RayWorkerHandle(actor, ref, name)
