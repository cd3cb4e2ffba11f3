"""What the state tests' child processes run (started with multiprocessing's spawn: each opens
its own backend from a ``BackendSpec``, as a worker process or the coordinator would), and the
changes they stage, computed the same way by the test that checks them."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from squall.state import StateBackend, open_backend

KEYS = 23


@dataclass(frozen=True)
class BackendSpec:
    topology: str
    conf: dict[str, Any] = field(default_factory=dict)

    def open(self) -> StateBackend:
        return open_backend(self.topology, self.conf)


def changes(task: int, n: int) -> dict[bytes, bytes | None]:
    """What ``task`` stages under checkpoint ``n``: a counter, one of KEYS keys set, every third
    checkpoint another one deleted (sometimes the one just set: the deletion wins)."""
    out: dict[bytes, bytes | None] = {b"last": str(n).encode(), f"k{n % KEYS}".encode(): f"{task}:{n}".encode()}
    if n % 3 == 0:
        out[f"k{(n * 7) % KEYS}".encode()] = None
    return out


def expected(task: int, upto: int) -> dict[bytes, bytes]:
    """``task``'s state once checkpoints 1..upto are committed: their changes applied in order."""
    state: dict[bytes, bytes] = {}
    for n in range(1, upto + 1):
        apply(state, changes(task, n))
    return state


def size(state: Mapping[bytes, bytes]) -> int:
    """What ``StateBackend.size`` reports for ``state``."""
    return sum(len(k) + len(v) for k, v in state.items())


def apply(state: dict[bytes, bytes], change: Mapping[bytes, bytes | None]) -> None:
    for k, v in change.items():
        if v is None:
            state.pop(k, None)
        else:
            state[k] = v


def writer(spec: BackendSpec, task: int, checkpoints: int, queue: Any) -> None:
    """A stateful task: stages checkpoints 1..checkpoints (every fifth one twice: first something
    else, then the real changes, which must replace it), reporting each as ("written", task, n)."""
    try:
        backend = spec.open()
        for n in range(1, checkpoints + 1):
            if n % 5 == 0:
                backend.write(task, n, {b"last": b"never committed", b"bogus": b"x"})
            backend.write(task, n, changes(task, n))
            queue.put(("written", task, n))
        backend.close()
    except BaseException:
        queue.put(("error", task, traceback.format_exc()))
        raise


def opener(spec: BackendSpec, task: int, barrier: Any) -> None:
    """A worker process starting: opens the backend (at the same moment as the others) and stages."""
    barrier.wait(30)
    backend = spec.open()
    backend.write(task, 1, {b"task": str(task).encode()})
    backend.close()


def committer(spec: BackendSpec, tasks: int) -> None:
    """The coordinator after a restart, in a loop until killed: discard what was staged and never
    committed, then stage checkpoints for ``tasks`` tasks and commit each, from the committed one on."""
    backend = spec.open()
    backend.discard_pending()
    n = backend.committed() + 1
    while True:
        for task in range(tasks):
            backend.write(task, n, changes(task, n))
        backend.commit(n)
        n += 1
