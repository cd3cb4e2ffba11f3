"""streamparse/pystorm components run in-process: their methods called directly by Squall's executors.

A user's class (``class WordCountBolt(streamparse.Bolt)``) is rebased onto one of the bases below
(``in_process_class``): a new class whose bases are the user's class and ``_PystormBolt`` (or the
spout, batching, tickless and reliable variants). Python's method order then puts the user's own
methods first, these bases next, pystorm's last: what pystorm does over stdin/stdout (the
constructor's stdio wrappers and SIGUSR1 handler, ``run``, ``send_message``, ``log``,
``raise_exception``, ``report_metric``, the batching machinery) is replaced here, and Squall's
executor binds its own ``emit``, ``ack`` and ``fail`` on the instance, as for a native component:
``self.emit([word])`` is one direct call into Squall's router, never a JSON message.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from typing import Any

import pystorm
import pystorm.bolt
import pystorm.spout

from squall.errors import SquallError
from squall.topology.bolt import BatchingBolt, Bolt
from squall.topology.spout import Spout

#: pystorm's log level names (``Component.log(message, level)``, ``pystorm.log.level``)
LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


class NoPipe:
    """Stands for pystorm's serializer: there is no stdin/stdout protocol in-process.

    A component that sends a message itself (``self.send_message({...})``) gets the ones that have
    a meaning here (``log``, ``error``, ``metrics``) handled; reading a message is refused.
    """

    def __init__(self, component: Any):
        self.component = component

    def send_message(self, msg: Any) -> None:
        self.component.send_message(msg)

    def read_message(self) -> Any:
        raise SquallError(
            f"{type(self.component).__name__} read from Storm's multilang pipe, which a component run "
            "in-process by Squall does not have: use the methods Squall calls (process, next_tuple, ack, fail)"
        )


class _Plumbing:
    """What replaces pystorm's stdio plumbing on every in-process component."""

    #: the executor's error reporter (Storm's reportError), set by the runtime
    _squall_report: Any = None
    logger: logging.Logger
    task_id: int
    component_name: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # pystorm's attributes, without its stdio wrappers (they would close the worker's stdout
        # when collected) and its SIGUSR1 handler (it raises off the main thread)
        self.topology_name = None
        self.debug = False
        self.storm_conf: dict[str, Any] = {}
        self.context: dict[str, Any] = {}
        self.pid = os.getpid()
        self._pending_commands: deque[Any] = deque()
        self._pending_task_ids: deque[Any] = deque()
        self._reader_lock = threading.RLock()
        self._writer_lock = threading.RLock()
        self._current_tups: list[Any] = []
        self.serializer = NoPipe(self)
        self.metrics: dict[str, Any] = {}

    def _setup_component(self, storm_conf: dict[str, Any], context: dict[str, Any]) -> None:
        """pystorm's: the attributes user code reads, set before ``initialize``."""
        self.topology_name = storm_conf.get("topology.name", "")
        self.debug = bool(storm_conf.get("topology.debug", False))
        self.storm_conf = storm_conf
        self.context = context
        level = "debug" if self.debug else storm_conf.get("pystorm.log.level")
        if isinstance(level, str) and level.lower() in LEVELS:
            self.logger.setLevel(LEVELS[level.lower()])

    def log(self, message: Any, level: str | None = None) -> None:
        """pystorm's ``log``: to this task's logger (``level``: trace, debug, info, warn, error)."""
        self.logger.log(LEVELS.get(level or "info", logging.INFO), "%s", message)

    def raise_exception(self, exception: BaseException, tup: Any = None) -> None:
        """Report an error (Storm's ``reportError``): counted and shown like a raised one; the task goes on."""
        if self._squall_report is not None:
            self._squall_report("raise_exception", exception)
        else:
            self.logger.error("%s: %s", type(exception).__name__, exception, exc_info=exception)

    def report_metric(self, name: str, value: Any) -> None:
        """Storm's shell metrics: the last value of each name is kept in ``self.metrics`` (and logged at debug)."""
        self.metrics[name] = value
        self.logger.debug("metric %s = %r", name, value)

    def send_message(self, message: Any) -> None:
        """A message a component sent itself: ``log``, ``error`` and ``metrics`` are handled, ``sync`` ignored."""
        if not isinstance(message, dict):
            self.logger.error("attempted to send a non dict message: %r", message)
            return
        command = message.get("command")
        if command == "log":
            level = {0: logging.DEBUG, 1: logging.DEBUG, 3: logging.WARNING, 4: logging.ERROR}.get(
                message.get("level", 2), logging.INFO
            )
            self.logger.log(level, "%s", message.get("msg", ""))
        elif command == "error":
            self.raise_exception(RuntimeError(str(message.get("msg", ""))))
        elif command == "metrics":
            self.report_metric(str(message.get("name")), message.get("params"))
        elif command != "sync":
            raise SquallError(
                f"{type(self).__name__} sent a {command!r} message itself: in-process, call "
                "self.emit / self.ack / self.fail instead"
            )

    def read_message(self) -> Any:
        return self.serializer.read_message()

    def read_handshake(self) -> Any:
        return self.serializer.read_message()

    def run(self) -> None:
        raise SquallError(f"{type(self).__name__}.run() is Storm's multilang loop: Squall calls the component itself")

    def _exit(self, status_code: int) -> None:
        raise SquallError(f"{type(self).__name__} tried to exit the process (status {status_code})")


class _PystormSpout(_Plumbing, pystorm.spout.Spout, Spout):
    """A pystorm/streamparse ``Spout`` in-process."""

    def emit(
        self, tup: Any, tup_id: Any = None, stream: Any = None, direct_task: Any = None, need_task_ids: bool = False
    ) -> Any:
        # reached only through a subclass that intercepts emit (ReliableSpout): the runtime's emit
        return self._raw_emit(tup, tup_id, stream, direct_task, need_task_ids)

    def _raw_emit(self, *args: Any) -> Any:  # replaced by the runtime
        return Spout.emit(self, *args)


class _PystormReliableSpout(pystorm.spout.ReliableSpout, _PystormSpout):
    """pystorm's ``ReliableSpout``: its own bookkeeping (``unacked_tuples``, ``failed_tuples``,
    ``max_fails``, the re-emit inside ``fail``), then the runtime's emit."""

    _squall_intercepts_emit = True


class _PystormBolt(_Plumbing, pystorm.bolt.Bolt, Bolt):
    """A pystorm/streamparse ``Bolt`` in-process: ``process``, ``process_tick``, auto ack/anchor/fail."""


class _PystormBatchingBolt(_Plumbing, pystorm.bolt.BatchingBolt, BatchingBolt):
    """pystorm's ``BatchingBolt``: ``group_key``, ``process_batch`` every ``ticks_between_batches`` ticks
    (pystorm's count: a batch is processed on the tick after that many), run by Squall's batching
    (the batch's tuples acked after ``process_batch``, failed if it raises, emits anchored to them)."""

    process = BatchingBolt.process

    def process_tick(self, tup: Any) -> None:
        n = self.__dict__.get("_tick_counter", 0) + 1
        if n > self.ticks_between_batches and self._pending():
            self._flush_pending()
            n = 0
        self._tick_counter = n


class _PystormTicklessBatchingBolt(_Plumbing, pystorm.bolt.TicklessBatchingBolt, BatchingBolt):
    """pystorm's ``TicklessBatchingBolt`` without its timer thread and signal: the runtime sends it a
    tick every ``secs_between_batches`` (``topology.tick.tuple.freq.secs``) and each tick processes
    the batches."""

    process = BatchingBolt.process

    def process_tick(self, tup: Any) -> None:
        self._flush_pending()


def base_for(cls: type) -> type | None:
    """The in-process base for a pystorm component class, or None if it is not one."""
    for pystorm_cls, base in (
        (pystorm.bolt.TicklessBatchingBolt, _PystormTicklessBatchingBolt),
        (pystorm.bolt.BatchingBolt, _PystormBatchingBolt),
        (pystorm.bolt.Bolt, _PystormBolt),
        (pystorm.spout.ReliableSpout, _PystormReliableSpout),
        (pystorm.spout.Spout, _PystormSpout),
    ):
        if issubclass(cls, pystorm_cls):
            return base
    return None


_CLASSES: dict[type, type] = {}


def in_process_class(cls: type) -> type:
    """``cls`` (a pystorm/streamparse Spout or Bolt subclass) rebased to run inside a Squall worker.

    Same name, module and qualified name (what ``squall describe`` and tracebacks show); one class
    per user class.
    """
    found = _CLASSES.get(cls)
    if found is not None:
        return found
    base = base_for(cls)
    if base is None:
        raise TypeError(f"{cls.__qualname__} is not a pystorm Spout or Bolt")
    user_initialize = cls.initialize  # type: ignore[attr-defined]

    def initialize(self: Any, conf: dict[str, Any], context: Any) -> Any:
        self._setup_component(conf, context)
        return user_initialize(self, conf, context)

    ns = {
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
        "initialize": initialize,
    }
    new = type(cls.__name__, (cls, base), ns)
    _CLASSES[cls] = new
    return new
