"""Where running topologies announce themselves, so ``squall list/stats/kill`` find them from another terminal.

A running ``squall run`` writes one small JSON file (``Entry``): its topology id and name, its pid,
the address of its UI and REST API, and the token its POST actions need. The folder is
``$XDG_RUNTIME_DIR/squall`` or, where that is unset, ``~/.squall/run``; the folder is readable by
its user only (0700) and every file too (0600): the token in it can kill the topology. The file is
removed when the run ends; a file whose process is gone (killed with -9) is stale: ignored and
removed by the next reader.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Entry:
    """One running topology, as its ``squall run`` registered it."""

    id: str  # the topology id of the REST API (name-start time)
    name: str  # topology.name
    pid: int  # the ``squall run`` (coordinator) process
    url: str  # its UI and REST API, e.g. http://127.0.0.1:8080
    token: str  # the token POST actions need (Authorization: Bearer ...)
    started: float  # wall clock, epoch seconds

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Entry:
        return cls(
            id=str(d["id"]),
            name=str(d["name"]),
            pid=int(d["pid"]),
            url=str(d["url"]),
            token=str(d["token"]),
            started=float(d["started"]),
        )


def folder() -> Path:
    """The registry folder (not created)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "squall"
    return Path.home() / ".squall" / "run"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process with that pid: not ours, so ours is gone
        return False
    return True


def register(entry: Entry) -> Path:
    """Write ``entry``'s file (0600, in a 0700 folder) atomically; returns its path."""
    d = folder()
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        d.chmod(0o700)
    path = d / f"{entry.id}.json"
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".json")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(entry), f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def unregister(entry: Entry) -> None:
    """Remove ``entry``'s file (if it is still there)."""
    with contextlib.suppress(OSError):
        (folder() / f"{entry.id}.json").unlink()


def entries() -> list[Entry]:
    """The running topologies, oldest first; stale or unreadable files are skipped (stale ones removed)."""
    d = folder()
    out = []
    for path in sorted(d.glob("*.json")) if d.is_dir() else ():
        try:
            entry = Entry.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not _alive(entry.pid):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        out.append(entry)
    return sorted(out, key=lambda e: e.started)


def find(name: str | None) -> list[Entry]:
    """The running topologies a user means by ``name``: its id or topology name (None: all of them)."""
    all_ = entries()
    if name is None:
        return all_
    exact = [e for e in all_ if e.id == name]
    return exact or [e for e in all_ if e.name == name]
