"""What a run needs from the machine, checked before it starts; resource errors turned into one clear message.

A worker process holds about ``9 + 3 n`` file descriptors for ``n`` workers (measured: ZeroMQ's
context and each socket's mailbox, a PULL socket and its ``n - 1`` incoming connections, a PUSH
socket per peer, the control socket) and the coordinator about ``13 + n``. ``ensure_open_files``
raises the soft ``RLIMIT_NOFILE`` up to the hard one when that is too low, and refuses the run
with a hint when even the hard limit is (``ulimit -n 24`` with 8 workers). Whatever else runs out
later (a user's own files, a restart) is reported by ``describe`` without a traceback.
"""

from __future__ import annotations

import errno
from typing import Any

from squall.errors import ResourceError

#: A worker's exit status when it ran out of a resource (it said why in its log, and to the coordinator).
EXIT_RESOURCES = 5
_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EAGAIN, errno.ENOBUFS, errno.ENOSPC}
SPARE_FDS = 2  # an import, a /proc read: transient descriptors on top of the estimate


def fds_needed(workers: int) -> int:
    """Open files one process of a run with ``workers`` workers needs (the larger of a worker's and
    the coordinator's), spare included."""
    return max(9 + 3 * workers, 13 + workers) + SPARE_FDS


def _limits() -> tuple[int, int] | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not Unix
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return int(soft), int(hard)


def ensure_open_files(workers: int) -> None:
    """Raise the soft open-files limit (inherited by the workers) if a run of ``workers`` needs it;
    ResourceError if the hard limit is too low."""
    limits = _limits()
    if limits is None:  # pragma: no cover
        return
    soft, hard = limits
    need = fds_needed(workers)
    if soft != -1 and soft < need:
        import resource

        infinite = resource.RLIM_INFINITY
        target = min(need * 2, hard) if hard != infinite else need * 2
        if target >= need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return
        raise ResourceError(
            f"{workers} worker(s) need about {need} open files per process, and the limit is {hard} "
            f"(ulimit -n): raise it (ulimit -n {need * 2}) or run fewer workers (--workers "
            f"{max(1, (hard - SPARE_FDS - 9) // 3)} fits)"
        )


def is_resource_error(exc: BaseException) -> bool:
    """An error that says the machine ran out of something (open files, memory, processes)."""
    if isinstance(exc, MemoryError):
        return True
    code = getattr(exc, "errno", None)
    return code in _ERRNOS


def describe(exc: BaseException, doing: str, workers: int | None = None) -> str:
    """One sentence: what ran out while ``doing`` what, and what to change."""
    code: Any = getattr(exc, "errno", None)
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if code in (errno.EMFILE, errno.ENFILE):
        limits = _limits()
        limit = f"the limit is {limits[0]} (ulimit -n)" if limits else "the open-files limit was reached"
        need = f"; {workers} worker(s) need about {fds_needed(workers)} per process" if workers else ""
        hint = f"{limit}{need}: raise it or run fewer workers (--workers)"
    elif code == errno.EAGAIN:
        hint = "the machine cannot start more processes or threads (ulimit -u, memory): run fewer workers"
    else:
        hint = "the machine is out of memory: run fewer workers, or give each less to hold"
    return f"out of resources while {doing} ({reason}): {hint}"
