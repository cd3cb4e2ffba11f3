"""Topology configuration: Storm's key names and meanings, plus a few ``squall.*`` keys.

Precedence, lowest first (as in Storm): these defaults < the Topology's ``config`` < the
command line (``--conf key=value``, ``--workers``) for the topology; a component's
``spec(config=...)`` overrides the topology's for that component only.

A value of None (``null``) means the default. 0 means what it says (see each key below): never
``conf.get(key) or default``, which would turn a legal 0 into the default. The runtime reads the
topology-wide keys once, through ``runtime_settings(conf)``.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from squall.errors import ConfigError

log = logging.getLogger("squall.config")

DEFAULTS: dict[str, Any] = {
    "topology.name": None,
    "topology.workers": None,  # None: one worker process per CPU core
    "topology.debug": False,
    # per spout task, trees in flight; 0: unbounded (Storm's null). None (unset) with acking on:
    # automatic, at most AUTO_MAX_SPOUT_PENDING and lowered to what completes in a quarter of
    # the message timeout (runtime/spout_executor.py); a fixed value is never changed
    "topology.max.spout.pending": None,
    "topology.message.timeout.secs": 30,  # 0: trees never time out
    "topology.acker.executors": None,  # None: one per worker; 0 turns tracking off
    "topology.tick.tuple.freq.secs": None,  # None or 0: no tick tuples
    "topology.transfer.batch.size": 1000,  # tuples per batch between workers (Storm's default is 1); 0 acts as 1
    "topology.batch.flush.interval.millis": 1,  # a partial batch waits at most this long; 0: flush every loop turn
    # ZeroMQ high-water mark per peer socket (batches), and the most tuples in flight to a peer
    # (this many batches; runtime.worker.PeerFlow); 0: no limit
    "squall.transfer.hwm": 64,
    # A batch between workers is cut once its encoded size passes this (a single tuple may be larger);
    # the high-water mark counts a message as one slot per started unit of this size, so what
    # waits per peer is bounded in bytes (about 2 x hwm x batch.bytes); 0: no cap, slots are messages
    "squall.transfer.batch.bytes": 256 * 1024,
    # The largest message a worker's data socket accepts (a peer sending more is disconnected); a
    # tuple whose encoding alone is larger is not sent: an EmitError names it and its tree fails; 0: no limit
    "squall.transfer.max.message.bytes": 64 * 1024 * 1024,
    "squall.spout.burst": 100,  # next_tuple() calls per spout task per loop turn (at least 1)
    "squall.drain.timeout.secs": 10,  # how long a stop waits for in-flight tuples; 0: stop right away
    # after the stop message, how long the coordinator waits for each worker's final counters
    # (and its close()/cleanup()) before SIGTERM; then 3 s more before SIGKILL. 0: SIGTERM at once
    "squall.shutdown.timeout.secs": 10,
    "squall.stats.interval.secs": 5,  # the status line's period; 0: ask the workers for counters at every turn
    # Stats rounds (the workers' counters, what statistics() and the UI show) this often, and at
    # least as often as the status line; 0: at every coordinator turn
    "squall.stats.round.secs": 1.0,
    # Lines of each worker's output (stdout and stderr) the coordinator keeps for logs() and the UI
    "squall.ui.log.lines": 1000,
    "squall.bind.host": "127.0.0.1",  # the coordinator's and workers' sockets listen here
    "squall.advertise.host": None,  # the address others connect to; None: the bind host
    "squall.worker.restart": True,  # restart a worker process that dies (with backoff)
    # How streamparse/pystorm Python components run (squall/compat): "inprocess" (None: the default,
    # methods called inside the worker) or "multilang" (a `python -m streamparse.run` subprocess per
    # task, as on Storm); read from the topology's or the component's config (or $SQUALL_STREAMPARSE_MODE)
    "squall.streamparse.mode": None,
    # Similar log lines from user code (same logger and text but for numbers) beyond the first 5 are
    # written at most once per this many seconds, with the count of those suppressed; 0: every line.
    "squall.log.collapse.secs": 5,
    # Check that every emitted tuple could cross to another worker (msgpack), naming the component,
    # stream and value at the emit; squall.testing turns it on (Storm's key and meaning).
    "topology.testing.always.try.serialize": False,
    # Checkpointed state (StatefulBolt, docs/state.md): Storm's interval key (its default, 1 s);
    # where checkpoints live: "sqlite" (a file per topology under squall.state.dir) or "redis"
    # (topology.state.redis.url: cluster mode, where workers do not share a disk)
    "topology.state.checkpoint.interval.ms": 1000,
    "topology.state.provider": "sqlite",
    "squall.state.dir": None,  # None: ~/.squall/state
    "topology.state.redis.url": "redis://127.0.0.1:6379/0",
    # a worker whose loop sent nothing (heartbeats every second, stats answers) for this long is
    # killed and restarted (Storm's supervisor.worker.timeout.secs, and the ShellBolt heartbeat
    # timeout streamparse users know, both 30); a single user call longer than this counts as hung.
    # 0: never (the worker is still named unresponsive in the log and the status line)
    "squall.worker.heartbeat.timeout.secs": 30,
    # Multilang subprocesses (ShellBolt / ShellSpout, squall/runtime/multilang.py): one that sends
    # nothing for this long while it owes an answer (a heartbeat, a tuple, a spout command) is killed,
    # its tuples fail and it is restarted (Storm's key and default); 0: never
    "topology.subprocess.timeout.secs": 30,
    # tuples sent to a ShellBolt's subprocess and not yet acked or failed, at most (Storm's key; its
    # default is 100, which halves the throughput here: bench/multilang_wordcount.py); the rest waits
    # in the worker (backpressure); 0: no limit
    "topology.shellbolt.max.pending": 1000,
    # `next` commands sent to a ShellSpout's subprocess before its `sync`, at most: 1 is Storm's
    # synchronous spout; more pipelines the round trips (pystorm, storm.py, storm.rb, storm.js cope)
    "squall.multilang.spout.pending": 16,
    # The web UI and REST API of `squall run` (squall/ui; --ui-port, --ui-host, --no-ui). Port None:
    # 8080 (Storm UI's), or the next free one when it is taken; a number: that port exactly; 0: any free port
    "squall.ui.port": None,
    "squall.ui.host": "127.0.0.1",  # another address than a loopback one exposes the GET endpoints to others
    "squall.ui.token": None,  # what POST actions need; None: a new random token per run (printed at start)
    # On a Ray cluster (`squall submit`, squall/cluster): Ray's CPUs each worker actor reserves, and the
    # custom resources ({"name": amount}) a worker actor and the topology master ask for (to pin them to
    # nodes that offer them); None: none
    "squall.cluster.worker.cpus": 1,
    "squall.cluster.worker.resources": None,
    "squall.cluster.master.resources": None,
}

#: Keys under these prefixes are Storm's or Squall's: one that neither defines gets a warning
#: (a typo like ``topology.wokers`` would otherwise be ignored in silence). Other keys are the
#: user's own and pass through to ``initialize(conf, ...)`` unchecked.
CHECKED_PREFIXES = ("topology.", "squall.")

#: Storm's ``topology.*`` keys that Squall accepts and ignores: real Storm configs carry them
#: (from Storm's ``conf/defaults.yaml`` and ``Config.java``, 1.x and 2.x).
STORM_KEYS = frozenset(
    {
        "topology.auto-credentials",
        "topology.auto.task.hooks",
        "topology.backpressure.enable",
        "topology.batch.size",
        "topology.blobstore.map",
        "topology.builtin.metrics.bucket.size.secs",
        "topology.classpath",
        "topology.classpath.beginning",
        "topology.disable.loadaware",
        "topology.disable.loadaware.messaging",
        "topology.enable.message.timeouts",
        "topology.enable.v2.metrics.tick",
        "topology.environment",
        "topology.error.throttle.interval.secs",
        "topology.eventlogger.executors",
        "topology.executor.overflow.limit",
        "topology.executor.receive.buffer.size",
        "topology.executor.send.buffer.size",
        "topology.fall.back.on.java.serialization",
        "topology.groups",
        "topology.localityaware.higher.bound",
        "topology.localityaware.lower.bound",
        "topology.logs.groups",
        "topology.logs.users",
        "topology.max.error.report.per.interval",
        "topology.max.replication.wait.time.sec",
        "topology.max.task.parallelism",
        "topology.min.replication.count",
        "topology.multilang.serializer",
        "topology.priority",
        "topology.producer.batch.dynamic",
        "topology.producer.batch.size",
        "topology.readonly.groups",
        "topology.readonly.users",
        "topology.receiver.buffer.size",
        "topology.serialized.message.size.metrics",
        "topology.skip.missing.kryo.registrations",
        "topology.sleep.spout.wait.strategy.time.ms",
        "topology.spout.recvq.skips",
        "topology.spout.wait.strategy",
        "topology.stats.sample.rate",
        "topology.submitter.principal",
        "topology.submitter.user",
        "topology.tasks",
        "topology.transfer.buffer.size",
        "topology.tuple.serializer",
        "topology.users",
        "topology.v2.metrics.tick.interval.seconds",
        "topology.version",
        "topology.worker.childopts",
        "topology.worker.gc.childopts",
        "topology.worker.logwriter.childopts",
        "topology.worker.max.heap.size.mb",
        "topology.worker.receiver.thread.count",
        "topology.worker.shared.thread.pool.size",
        "topology.worker.timeout.secs",
    }
)
#: Families of Storm keys (serialization, scheduling, resources, metrics, state, windowing, wait
#: strategies...): any key under them is Storm's, ignored here.
STORM_KEY_PREFIXES = (
    "topology.acker.cpu.",
    "topology.acker.resources.",
    "topology.backpressure.",
    "topology.bolt.wait.",
    "topology.bolts.",
    "topology.component.",
    "topology.disruptor.",
    "topology.kryo.",
    "topology.metrics.",
    "topology.ras.",
    "topology.scheduler.",
    "topology.spout.wait.",
    "topology.state.",
    "topology.trident.",
)


def is_storm_key(key: str) -> bool:
    """A Storm key Squall does not use (accepted, ignored)."""
    return key in STORM_KEYS or key.startswith(STORM_KEY_PREFIXES)


def unknown_key_warnings(conf: Mapping[str, Any] | None, where: str) -> list[str]:
    """A warning for each ``topology.*`` / ``squall.*`` key of ``conf`` that neither Squall
    (``DEFAULTS``) nor Storm (``STORM_KEYS``) defines, with the closest known key."""
    out = []
    for key in conf or {}:
        if not isinstance(key, str) or not key.startswith(CHECKED_PREFIXES):
            continue
        if key in DEFAULTS or is_storm_key(key):
            continue
        close = difflib.get_close_matches(key, [*DEFAULTS, *STORM_KEYS], n=1, cutoff=0.75)
        hint = f"did you mean '{close[0]}'?" if close else "Squall's keys are listed in squall.topology.config.DEFAULTS"
        out.append(f"unknown config key '{key}' in {where} is ignored: {hint}")
    return out


def warn_unknown_keys(conf: Mapping[str, Any] | None, where: str) -> None:
    """Log ``unknown_key_warnings`` (a warning, not a refusal: a config may carry keys for other tools)."""
    for text in unknown_key_warnings(conf, where):
        log.warning("%s", text)
    for key in conf or {}:
        if isinstance(key, str) and is_storm_key(key):
            log.debug("config key '%s' in %s is Storm's; Squall ignores it", key, where)


INT_KEYS = {
    "topology.workers",
    "topology.max.spout.pending",
    "topology.acker.executors",
    "topology.transfer.batch.size",
    "squall.transfer.hwm",
    "squall.transfer.batch.bytes",
    "squall.transfer.max.message.bytes",
    "squall.spout.burst",
    "squall.ui.port",
    "squall.ui.log.lines",
    "topology.shellbolt.max.pending",
    "squall.multilang.spout.pending",
}
NUMBER_KEYS = {
    "topology.message.timeout.secs",
    "topology.tick.tuple.freq.secs",
    "topology.batch.flush.interval.millis",
    "topology.state.checkpoint.interval.ms",
    "squall.drain.timeout.secs",
    "squall.shutdown.timeout.secs",
    "squall.stats.interval.secs",
    "squall.stats.round.secs",
    "squall.log.collapse.secs",
    "squall.cluster.worker.cpus",
    "squall.worker.heartbeat.timeout.secs",
    "topology.subprocess.timeout.secs",
}


#: Where an unset ``topology.max.spout.pending`` starts (and its ceiling), with acking on: the
#: value Storm users commonly set first (Storm's own default is unbounded). A spout's trees in
#: flight are then at most a thousand whatever the consumer's speed, and fewer when the topology
#: completes fewer than that in a quarter of ``topology.message.timeout.secs``.
AUTO_MAX_SPOUT_PENDING = 1000

#: Bind hosts that listen on every interface: other processes cannot connect to them as such.
WILDCARD_HOSTS = {"0.0.0.0", "::", "*"}


def hosts(conf: dict[str, Any]) -> tuple[str, str]:
    """``(bind host, advertise host)`` from ``squall.bind.host`` and ``squall.advertise.host``.

    Sockets bind to the first; the addresses sent to other processes use the second, which is
    the bind host unless set. A wildcard bind host (``0.0.0.0``, ``::``) needs an advertise host.
    """
    bind = conf.get("squall.bind.host") or DEFAULTS["squall.bind.host"]
    advertise = conf.get("squall.advertise.host") or None
    if not isinstance(bind, str):
        raise ConfigError(f"squall.bind.host={bind!r}: expected a host address (e.g. 127.0.0.1)")
    if advertise is not None and (not isinstance(advertise, str) or advertise in WILDCARD_HOSTS):
        raise ConfigError(
            f"squall.advertise.host={advertise!r}: expected the address other processes reach this machine at"
        )
    if advertise is None:
        if bind in WILDCARD_HOSTS:
            raise ConfigError(
                f"squall.bind.host={bind} listens on every interface, which no other process can connect to: "
                "set squall.advertise.host to this machine's reachable address"
            )
        advertise = bind
    return bind, advertise


def parse_value(text: str) -> Any:
    """``--conf`` values: JSON when it parses (numbers, true/false/null, lists), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        low = text.strip().lower()
        if low in ("none", "nil"):
            return None
        if low in ("yes", "on"):
            return True
        if low in ("no", "off"):
            return False
        return text


def parse_pairs(pairs: list[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings from the command line."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--conf {pair!r} is not key=value (e.g. --conf topology.max.spout.pending=1000)")
        out[key.strip()] = parse_value(value)
    return out


def check(conf: dict[str, Any]) -> dict[str, Any]:
    """Type-check the known keys; raise ConfigError naming the key and what it wants."""
    for key in INT_KEYS:
        v = conf.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise ConfigError(f"{key}={v!r}: expected a non-negative integer (or null)")
    for key in NUMBER_KEYS:
        v = conf.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
            raise ConfigError(f"{key}={v!r}: expected a non-negative number (or null)")
    if conf.get("topology.workers") == 0:
        raise ConfigError("topology.workers=0: expected at least 1 worker (or null for one per CPU core)")
    hosts(conf)
    _check_ui(conf)
    if conf.get("squall.spout.burst") == 0:
        raise ConfigError("squall.spout.burst=0: expected at least 1 next_tuple() call per turn (or null for 100)")
    return conf


def _check_ui(conf: dict[str, Any]) -> None:
    ui_port = conf.get("squall.ui.port")
    if ui_port is not None and ui_port > 65535:
        raise ConfigError(f"squall.ui.port={ui_port}: expected a TCP port (0 to 65535; 0: any free port)")
    for key in ("squall.ui.host", "squall.ui.token"):
        v = conf.get(key)
        if v is not None and (not isinstance(v, str) or not v):
            raise ConfigError(f"{key}={v!r}: expected a non-empty string (or null)")


def topology_conf(
    topology_config: dict[str, Any],
    overrides: dict[str, Any] | None = None,
    components: Iterable[Any] = (),
) -> dict[str, Any]:
    """The effective topology config: defaults < topology class config < overrides.

    Unknown ``topology.*`` / ``squall.*`` keys in either, or in the ``config`` of ``components``
    (``ComponentDef``s), are logged as warnings.
    """
    warn_unknown_keys(topology_config, "the topology's config")
    warn_unknown_keys(overrides, "the overrides (--conf)")
    for d in components:
        warn_unknown_keys(d.config, f"the config of component '{d.name}'")
    conf = dict(DEFAULTS)
    conf.update(topology_config or {})
    conf.update(overrides or {})
    if conf.get("topology.workers") is None:
        conf["topology.workers"] = os.cpu_count() or 1
    return check(conf)


def component_conf(conf: dict[str, Any], component_config: dict[str, Any]) -> dict[str, Any]:
    """The config one component sees: the topology's, overridden by its own ``spec(config=...)``."""
    merged = dict(conf)
    merged.update(component_config or {})
    return merged


@dataclass(frozen=True)
class RuntimeSettings:
    """The topology-wide keys the runtime uses, read once from a merged config (``runtime_settings``)."""

    batch_size: int  # topology.transfer.batch.size
    flush_secs: float  # topology.batch.flush.interval.millis / 1000; 0: flush every loop turn
    spout_burst: int  # squall.spout.burst
    message_timeout_secs: float | None  # topology.message.timeout.secs; None (from 0): trees never time out
    drain_timeout_secs: float  # squall.drain.timeout.secs; 0: stop without waiting for in-flight tuples
    shutdown_timeout_secs: float  # squall.shutdown.timeout.secs; 0: SIGTERM the workers right after the stop
    stats_interval_secs: float  # squall.stats.interval.secs
    stats_round_secs: float  # squall.stats.round.secs, at most stats_interval_secs
    log_lines: int  # squall.ui.log.lines: output lines kept per worker
    transfer_hwm: int  # squall.transfer.hwm; 0: no limit (ZeroMQ's meaning)
    batch_bytes: int  # squall.transfer.batch.bytes; 0: no byte cap
    max_message_bytes: int  # squall.transfer.max.message.bytes; 0: no limit
    bind_host: str  # squall.bind.host
    advertise_host: str  # squall.advertise.host, or the bind host
    worker_restart: bool  # squall.worker.restart
    log_collapse_secs: float  # squall.log.collapse.secs; 0: every log line written
    heartbeat_timeout_secs: float | None  # squall.worker.heartbeat.timeout.secs; None (from 0): never


def runtime_settings(conf: dict[str, Any]) -> RuntimeSettings:
    """Type-check ``conf`` and read the runtime's keys: None means the default, 0 means 0."""
    check(conf)

    def get(key: str) -> Any:
        value = conf.get(key)
        return DEFAULTS[key] if value is None else value

    timeout = get("topology.message.timeout.secs")
    bind_host, advertise_host = hosts(conf)
    return RuntimeSettings(
        batch_size=int(get("topology.transfer.batch.size")),
        flush_secs=float(get("topology.batch.flush.interval.millis")) / 1000.0,
        spout_burst=int(get("squall.spout.burst")),
        message_timeout_secs=float(timeout) if timeout else None,
        drain_timeout_secs=float(get("squall.drain.timeout.secs")),
        shutdown_timeout_secs=float(get("squall.shutdown.timeout.secs")),
        stats_interval_secs=float(get("squall.stats.interval.secs")),
        stats_round_secs=min(float(get("squall.stats.round.secs")), float(get("squall.stats.interval.secs"))),
        log_lines=int(get("squall.ui.log.lines")),
        transfer_hwm=int(get("squall.transfer.hwm")),
        batch_bytes=int(get("squall.transfer.batch.bytes")),
        max_message_bytes=int(get("squall.transfer.max.message.bytes")),
        bind_host=bind_host,
        advertise_host=advertise_host,
        worker_restart=bool(get("squall.worker.restart")),
        log_collapse_secs=float(get("squall.log.collapse.secs")),
        heartbeat_timeout_secs=float(get("squall.worker.heartbeat.timeout.secs")) or None,
    )
