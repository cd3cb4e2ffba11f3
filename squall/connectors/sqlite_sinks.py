"""Exactly-once sinks into a SQLite table (the standard library's sqlite3): see docs/connectors.md,
"Exactly-once output".

* ``SqliteTransactionalSink``: each committed checkpoint's batch of a task goes into the table in one
  transaction, one row per record under the primary key ``(checkpoint, task, seq)``
  (``INSERT OR IGNORE``): writing a batch again after a crash adds nothing, and a reader sees a
  batch whole or not at all.
* ``SqliteIdempotentSink``: an upsert by the key columns (``INSERT ... ON CONFLICT DO UPDATE``),
  every ``flush_interval``: the last value of each key wins.

The file is opened in WAL mode with a busy timeout, so the tasks of several workers (and readers)
share it; local disk only.
"""

from __future__ import annotations

import json
import operator
import sqlite3
from collections.abc import Callable
from typing import Any, ClassVar

from squall.connectors.base import REQUIRED, Connector
from squall.errors import DeliveryError
from squall.topology.sinks import IdempotentSink, TransactionalSink
from squall.topology.tuple import Tuple

_PLAIN = (type(None), int, float, str, bytes)
SETTINGS: dict[str, Any] = {
    "sqlite.path": REQUIRED,  # the database file (created with the table when missing)
    "sqlite.table": REQUIRED,
    "sqlite.columns": REQUIRED,  # the tuple fields written, one column each, in this order
    "sqlite.busy.timeout.secs": 30.0,  # how long a write waits for another writer's transaction
}


def _column(value: Any) -> Any:
    """A value as SQLite stores it: None, numbers, text and bytes as they are, anything else as JSON."""
    if type(value) in _PLAIN or isinstance(value, _PLAIN):
        return value
    return json.dumps(value, separators=(",", ":"))


def _names(value: Any) -> list[str] | None:
    """A column list given as a list of names, or one name; None when it is neither."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """values -> the tuple of the fields ``names`` (one attrgetter call per tuple)."""
    get = operator.attrgetter(*names)
    if len(names) == 1:
        return lambda values: (get(values),)
    return get


class _SqliteSink(Connector):
    """The file, its table and the checks both SQLite sinks share."""

    connector = "sqlite"
    prefix = "sqlite."
    settings: ClassVar[dict[str, Any]] = SETTINGS
    #: what the table's own columns (not the tuple's) are, before the tuple fields
    key_columns: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        out = super().config_problems(conf)
        for key in ("sqlite.path", "sqlite.table"):
            value = conf.get(key)
            if value is not None and (not isinstance(value, str) or not value):
                out.append((f"{cls.__name__}: {key}={value!r} is not a name", f"set {key} to a non-empty string"))
        cols = conf.get("sqlite.columns")
        if cols is not None and _names(cols) is None:
            out.append(
                (
                    f"{cls.__name__}: sqlite.columns={cols!r} is not a list of field names",
                    "sqlite.columns: ['word', 'count'] (the tuple fields to write, one column each)",
                )
            )
        clash = sorted(set(_names(cols) or ()) & set(cls.key_columns))
        if clash:
            out.append(
                (
                    f"{cls.__name__}: sqlite.columns uses {clash}, the sink's own column names",
                    "rename those fields (or write them under other names with a subclass's record())",
                )
            )
        secs = conf.get("sqlite.busy.timeout.secs")
        if secs is not None and (not isinstance(secs, (int, float)) or isinstance(secs, bool) or secs < 0):
            out.append((f"{cls.__name__}: sqlite.busy.timeout.secs={secs!r}", "set it to a number of seconds >= 0"))
        return out

    def _open_db(self, conf: dict[str, Any], create: str) -> None:
        self.path = str(self.setting(conf, "sqlite.path"))
        self.table = _quote(str(self.setting(conf, "sqlite.table")))
        self.columns = _names(self.setting(conf, "sqlite.columns")) or []
        self.get = _getter(self.columns)
        try:
            self.db = sqlite3.connect(
                self.path,
                timeout=float(self.setting(conf, "sqlite.busy.timeout.secs")),
                isolation_level=None,
                check_same_thread=False,
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"CREATE TABLE IF NOT EXISTS {self.table} ({create})")
        except sqlite3.Error as exc:
            raise DeliveryError(
                f"{type(self).__name__} cannot use the table {self.table} in {self.path} ({exc})"
                " -> set sqlite.path to a writable file on a local disk, and sqlite.table to a table"
                " with the sink's columns (or a new name)"
            ) from None

    def _transaction(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """``sql`` over ``rows`` in one write transaction (BEGIN IMMEDIATE: waits on the busy timeout).
        Values go to SQLite as they are; only when one cannot (a list, a dict) are the rows converted
        (``_column``: JSON) and written again, so the common case costs no Python call per value."""
        try:
            self._execute(sql, rows, first=True)
        except sqlite3.ProgrammingError:  # "Error binding parameter": a value SQLite has no type for
            self._execute(sql, [tuple(map(_column, row)) for row in rows], first=False)

    def _execute(self, sql: str, rows: list[tuple[Any, ...]], first: bool) -> None:
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(sql, rows)
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if first and isinstance(exc, sqlite3.ProgrammingError):
                raise
            raise DeliveryError(
                f"{type(self).__name__}: writing to {self.table} in {self.path} failed: {exc}"
            ) from None

    def cleanup(self) -> None:
        db = self.__dict__.get("db")
        if db is not None:
            db.close()
        super().cleanup()  # type: ignore[misc]


class SqliteTransactionalSink(_SqliteSink, TransactionalSink):
    """Exactly once: the records of each committed checkpoint, one row per record under the primary
    key ``(checkpoint, task, seq)``, written once the checkpoint is committed (one transaction per
    batch; a batch written again after a crash adds nothing). Keys: ``sqlite.path``, ``sqlite.table``,
    ``sqlite.columns`` (the tuple fields written), ``sqlite.busy.timeout.secs``."""

    key_columns = ("checkpoint", "task", "seq")

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        cols = ", ".join(_quote(c) for c in _names(self.setting(conf, "sqlite.columns")) or [])
        self._open_db(
            conf,
            f"checkpoint INTEGER NOT NULL, task INTEGER NOT NULL, seq INTEGER NOT NULL, {cols}, "
            "PRIMARY KEY (checkpoint, task, seq)",
        )
        names = ", ".join(_quote(c) for c in self.columns)
        marks = ", ".join("?" for _ in self.columns)
        self.insert = f"INSERT OR IGNORE INTO {self.table} (checkpoint, task, seq, {names}) VALUES (?, ?, ?, {marks})"

    def record(self, tup: Tuple) -> Any:
        return self.get(tup.values)

    def write(self, checkpoint_id: int, records: list[Any]) -> None:
        task = self.task_id
        self._transaction(self.insert, [(checkpoint_id, task, seq, *rec) for seq, rec in enumerate(records)])


class SqliteIdempotentSink(_SqliteSink, IdempotentSink):
    """Last value wins: each tuple's ``sqlite.columns`` upserted under the primary key
    ``sqlite.key`` (one of those columns, or a list of them), every ``flush_interval`` seconds."""

    settings: ClassVar[dict[str, Any]] = {**SETTINGS, "sqlite.key": REQUIRED}

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        out = super().config_problems(conf)
        key, cols = _names(conf.get("sqlite.key")), _names(conf.get("sqlite.columns"))
        if conf.get("sqlite.key") is not None and (key is None or (cols is not None and not set(key) <= set(cols))):
            out.append(
                (
                    f"{cls.__name__}: sqlite.key={conf.get('sqlite.key')!r} is not among sqlite.columns={cols!r}",
                    "sqlite.key names the column (or the list of columns) of sqlite.columns that identify a row",
                )
            )
        return out

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        key = _names(self.setting(conf, "sqlite.key")) or []
        cols = _names(self.setting(conf, "sqlite.columns")) or []
        keys = ", ".join(_quote(c) for c in key)
        self._open_db(conf, f"{', '.join(_quote(c) for c in cols)}, PRIMARY KEY ({keys})")
        self.key_of = _getter(key)
        rest = [c for c in self.columns if c not in key]
        update = (
            f"DO UPDATE SET {', '.join(f'{_quote(c)} = excluded.{_quote(c)}' for c in rest)}" if rest else "DO NOTHING"
        )
        marks = ", ".join("?" for _ in self.columns)
        names = ", ".join(_quote(c) for c in self.columns)
        self.upsert_sql = f"INSERT INTO {self.table} ({names}) VALUES ({marks}) ON CONFLICT ({keys}) {update}"

    def key_value(self, tup: Tuple) -> tuple[Any, Any]:
        values = tup.values
        return self.key_of(values), self.get(values)

    def upsert(self, items: dict[Any, Any]) -> None:
        self._transaction(self.upsert_sql, list(items.values()))
