"""The SQLite state backend (``topology.state.provider = sqlite``, the default): one file per
topology, ``<squall.state.dir>/<topology>.sqlite3`` (``~/.squall/state`` by default).

Why SQLite: it is in the standard library, a checkpoint is one transaction, and in WAL mode the
workers' writers and the coordinator's commits do not block readers (``load``); writers queue on
the busy timeout instead of failing with "database is locked". Local disk only: cluster mode,
where workers do not share a disk, needs the Redis backend.

Tables: ``meta(committed)`` (one row), ``pending(task, checkpoint, key, value)`` (what ``write``
staged; a NULL value deletes the key), ``state(task, key, value)`` (what is committed) and
``sizes(task, keys, bytes)`` (of ``state``, for the statistics). ``commit`` is one transaction: the
pending rows of each checkpoint ``<= n``, oldest first, are applied (upserted or deleted, ``sizes``
adjusted), then those rows go and ``committed = n``.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from squall.errors import ConfigError, StateError
from squall.state.backend import StateBackend

#: how long a write waits for another process's transaction (they last milliseconds) before failing
BUSY_TIMEOUT_SECS = 30.0

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 0), committed INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO meta (id, committed) VALUES (0, 0)",
    "CREATE TABLE IF NOT EXISTS pending (task INTEGER NOT NULL, checkpoint INTEGER NOT NULL, key BLOB NOT NULL,"
    " value BLOB, PRIMARY KEY (task, checkpoint, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS state (task INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,"
    " PRIMARY KEY (task, key)) WITHOUT ROWID",
    # per task, the keys and bytes in `state`, kept by commit: size() and tasks() never scan the state
    "CREATE TABLE IF NOT EXISTS sizes (task INTEGER PRIMARY KEY, keys INTEGER NOT NULL, bytes INTEGER NOT NULL)",
)

# A commit applies each pending checkpoint <= n in turn, oldest first (one statement per step over
# that checkpoint's rows, which come in (task, key) order: the state's b-tree is walked in order).
#: what checkpoint ?'s changes will do to each task's keys and bytes (run before applying them)
_SIZES = (
    "INSERT INTO sizes (task, keys, bytes)"
    " SELECT p.task, count(p.value) - count(s.key),"
    " sum(coalesce(length(p.key) + length(p.value), 0) - coalesce(length(s.key) + length(s.value), 0))"
    " FROM pending AS p LEFT JOIN state AS s ON s.task = p.task AND s.key = p.key WHERE p.checkpoint = ?"
    " GROUP BY p.task ON CONFLICT (task) DO UPDATE SET keys = keys + excluded.keys, bytes = bytes + excluded.bytes"
)
_DELETE = (
    "DELETE FROM state WHERE (task, key) IN (SELECT task, key FROM pending WHERE checkpoint = ? AND value IS NULL)"
)
_UPSERT = (
    "INSERT INTO state (task, key, value)"
    " SELECT task, key, value FROM pending WHERE checkpoint = ? AND value IS NOT NULL"
    " ON CONFLICT (task, key) DO UPDATE SET value = excluded.value"
)


def default_dir() -> Path:
    return Path.home() / ".squall" / "state"


def file_name(topology: str) -> str:
    """``topology`` as a file name: ASCII letters, digits, ``-``, ``_`` and inner dots kept, any
    other character %-escaped (so two names never share a file), long names shortened with a hash."""
    if not topology:
        raise ConfigError("a state backend needs the topology's name: name the topology")
    out = []
    for i, c in enumerate(topology):
        if c.isascii() and (c.isalnum() or c in "-_" or (c == "." and i > 0)):
            out.append(c)
        else:
            out.append("".join(f"%{b:02X}" for b in c.encode()))
    name = "".join(out)
    if len(name) > 200:  # file systems stop at 255 bytes
        name = name[:180] + "-" + hashlib.sha256(topology.encode()).hexdigest()[:16]
    return name + ".sqlite3"


def state_file(topology: str, conf: Mapping[str, Any]) -> Path:
    """Where ``topology``'s checkpoints live (``squall.state.dir``, None: ``~/.squall/state``)."""
    folder = conf.get("squall.state.dir")
    base = Path(folder).expanduser() if folder else default_dir()
    return base / file_name(topology)


class SqliteBackend(StateBackend):
    """Checkpoints of one topology in one SQLite file, shared by the processes of a machine."""

    def __init__(self, topology: str, conf: Mapping[str, Any]):
        super().__init__(topology, conf)
        self.path = state_file(topology, conf)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(
                f"squall.state.dir: cannot create {self.path.parent} for the state of topology {topology!r} ({e})"
                " -> set squall.state.dir to a writable folder on a local disk"
            ) from e
        with self._errors():
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECS, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA synchronous=FULL")  # a committed checkpoint survives a power loss
            self._setup()

    def _setup(self) -> None:
        """WAL mode (persistent in the file) and the tables. Switching to WAL does not wait on the
        busy timeout: when several processes open a new file at once, the losers retry."""
        deadline = time.monotonic() + BUSY_TIMEOUT_SECS
        while True:
            try:
                if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                    if mode != "wal":
                        raise StateError(
                            f"{self.path}: SQLite cannot use WAL mode there (got {mode!r})"
                            " -> set squall.state.dir to a folder on a local disk (not a network file system)"
                        )
                with self._transaction():
                    for statement in SCHEMA:
                        self._db.execute(statement)
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's errors as a StateError naming the file and the fix."""
        try:
            yield
        except sqlite3.Error as e:
            raise StateError(
                f"the sqlite state backend cannot use {self.path} ({type(e).__name__}: {e})"
                " -> check that squall.state.dir is a writable folder on a local disk with free space"
                f" ('database is locked': another process held the file for over {BUSY_TIMEOUT_SECS:.0f} s)"
            ) from e

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the write lock at its start (BEGIN IMMEDIATE): a deferred
        transaction that starts reading and then writes can fail with "database is locked" without
        waiting; an immediate one waits on the busy timeout."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _committed(self, db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT committed FROM meta").fetchone()[0])

    def _above_committed(self, db: sqlite3.Connection, checkpoint: int, what: str) -> None:
        committed = self._committed(db)
        if checkpoint <= committed:
            raise ValueError(
                f"cannot {what} checkpoint {checkpoint} of topology {self.topology!r}: checkpoint {committed} is"
                " committed already (checkpoint ids only grow)"
            )

    def committed(self) -> int:
        with self._errors():
            return self._committed(self._db)

    def write(self, task: int, checkpoint: int, changes: Mapping[bytes, bytes | None]) -> int:
        rows = [(task, checkpoint, k, v) for k, v in changes.items()]
        with self._errors(), self._transaction() as db:
            self._above_committed(db, checkpoint, "write")
            db.execute("DELETE FROM pending WHERE task = ? AND checkpoint = ?", (task, checkpoint))
            db.executemany("INSERT INTO pending (task, checkpoint, key, value) VALUES (?, ?, ?, ?)", rows)
        return sum(len(k) + (0 if v is None else len(v)) for k, v in changes.items())

    def commit(self, checkpoint: int) -> None:
        with self._errors(), self._transaction() as db:
            self._above_committed(db, checkpoint, "commit")
            staged = "SELECT DISTINCT checkpoint FROM pending WHERE checkpoint <= ? ORDER BY checkpoint"
            for (n,) in db.execute(staged, (checkpoint,)).fetchall():
                for statement in (_SIZES, _DELETE, _UPSERT):
                    db.execute(statement, (n,))
            db.execute("DELETE FROM sizes WHERE keys = 0")
            db.execute("DELETE FROM pending WHERE checkpoint <= ?", (checkpoint,))
            db.execute("UPDATE meta SET committed = ?", (checkpoint,))

    def load(self, task: int) -> dict[bytes, bytes]:
        with self._errors():
            return dict(self._db.execute("SELECT key, value FROM state WHERE task = ?", (task,)))

    def discard_pending(self) -> None:
        # every pending row is above `committed`: commit deletes those it applies, write refuses the others
        with self._errors(), self._transaction() as db:
            db.execute("DELETE FROM pending")

    def size(self, task: int) -> int:
        with self._errors():
            row = self._db.execute("SELECT bytes FROM sizes WHERE task = ?", (task,)).fetchone()
        return 0 if row is None else int(row[0])

    def tasks(self) -> list[int]:
        with self._errors():
            return [int(t) for (t,) in self._db.execute("SELECT task FROM sizes ORDER BY task")]

    def reset(self) -> None:
        with self._errors(), self._transaction() as db:
            db.execute("DELETE FROM pending")
            db.execute("DELETE FROM state")
            db.execute("DELETE FROM sizes")
            db.execute("UPDATE meta SET committed = 0")

    def close(self) -> None:
        with self._errors():
            self._db.close()
