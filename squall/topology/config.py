"""Topology configuration: Storm's key names and meanings, plus a few ``squall.*`` keys.

Precedence, lowest first (as in Storm): these defaults < the Topology's ``config`` < the
command line (``--conf key=value``, ``--workers``) for the topology; a component's
``spec(config=...)`` overrides the topology's for that component only.

A value of None (``null``) means the default. 0 means what it says (see each key below): never
``conf.get(key) or default``, which would turn a legal 0 into the default. The runtime reads the
topology-wide keys once, through ``runtime_settings(conf)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from squall.errors import ConfigError

DEFAULTS: dict[str, Any] = {
    "topology.name": None,
    "topology.workers": None,  # None: one worker process per CPU core
    "topology.debug": False,
    "topology.max.spout.pending": None,  # per spout task; None or 0 = unbounded (Storm's meaning)
    "topology.message.timeout.secs": 30,  # 0: trees never time out
    "topology.acker.executors": None,  # None: one per worker; 0 turns tracking off
    "topology.tick.tuple.freq.secs": None,  # None or 0: no tick tuples
    "topology.transfer.batch.size": 1000,  # tuples per batch between workers (Storm's default is 1); 0 acts as 1
    "topology.batch.flush.interval.millis": 1,  # a partial batch waits at most this long; 0: flush every loop turn
    "squall.transfer.hwm": 64,  # batches queued per peer before backpressure stops the spouts; 0: no limit
    # A batch between workers is cut once its encoded size passes this (a single tuple may be larger);
    # the high-water mark counts a message as one slot per started unit of this size, so what
    # waits per peer is bounded in bytes (about 2 x hwm x batch.bytes); 0: no cap, slots are messages
    "squall.transfer.batch.bytes": 256 * 1024,
    # The largest message a worker's data socket accepts (a peer sending more is disconnected); a
    # tuple whose encoding alone is larger is not sent: an EmitError names it and its tree fails; 0: no limit
    "squall.transfer.max.message.bytes": 64 * 1024 * 1024,
    "squall.spout.burst": 100,  # next_tuple() calls per spout task per loop turn (at least 1)
    "squall.drain.timeout.secs": 10,  # how long a stop waits for in-flight tuples; 0: stop right away
    "squall.stats.interval.secs": 5,  # 0: ask the workers for counters at every coordinator turn
    "squall.bind.host": "127.0.0.1",  # the coordinator's and workers' sockets listen here
    "squall.advertise.host": None,  # the address others connect to; None: the bind host
    "squall.worker.restart": True,  # restart a worker process that dies (with backoff)
}

INT_KEYS = {
    "topology.workers",
    "topology.max.spout.pending",
    "topology.acker.executors",
    "topology.transfer.batch.size",
    "squall.transfer.hwm",
    "squall.transfer.batch.bytes",
    "squall.transfer.max.message.bytes",
    "squall.spout.burst",
}
NUMBER_KEYS = {
    "topology.message.timeout.secs",
    "topology.tick.tuple.freq.secs",
    "topology.batch.flush.interval.millis",
    "squall.drain.timeout.secs",
    "squall.stats.interval.secs",
}


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
    if conf.get("squall.spout.burst") == 0:
        raise ConfigError("squall.spout.burst=0: expected at least 1 next_tuple() call per turn (or null for 100)")
    return conf


def topology_conf(topology_config: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The effective topology config: defaults < topology class config < overrides."""
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
    stats_interval_secs: float  # squall.stats.interval.secs
    transfer_hwm: int  # squall.transfer.hwm; 0: no limit (ZeroMQ's meaning)
    batch_bytes: int  # squall.transfer.batch.bytes; 0: no byte cap
    max_message_bytes: int  # squall.transfer.max.message.bytes; 0: no limit
    bind_host: str  # squall.bind.host
    advertise_host: str  # squall.advertise.host, or the bind host
    worker_restart: bool  # squall.worker.restart


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
        stats_interval_secs=float(get("squall.stats.interval.secs")),
        transfer_hwm=int(get("squall.transfer.hwm")),
        batch_bytes=int(get("squall.transfer.batch.bytes")),
        max_message_bytes=int(get("squall.transfer.max.message.bytes")),
        bind_host=bind_host,
        advertise_host=advertise_host,
        worker_restart=bool(get("squall.worker.restart")),
    )
