"""Control messages between the coordinator and its workers: their kinds, in one place.

A control message is a msgpack map whose ``"t"`` key is one of the kinds below (the wire format
is unchanged: the constants are the strings that were always sent). The TypedDicts document each
message's keys; a reader of the wire can check them with ``mypy``.

    worker -> coordinator: HELLO · READY · FATAL · SPOUTS_DONE · STATS (when asked) · PROBE · BYE · HEARTBEAT
                           · CHECKPOINTED
    coordinator -> worker: PEERS · PEER · ACTIVATE · DEACTIVATE · DRAIN · END_INPUT · PROBE · STATS · STOP · SAMPLE
                           · CHECKPOINT · COMMITTED
"""

from __future__ import annotations

from typing import Any, Final, TypedDict

KIND: Final = "t"  # the key of a control message's kind

# -- coordinator -> worker --------------------------------------------------------------------
PEERS: Final = "peers"  # every worker's data address and incarnation
PEER: Final = "peer"  # one restarted peer: a new incarnation at a new address
ACTIVATE: Final = "activate"  # call the spouts' activate(), then next_tuple
DEACTIVATE: Final = "deactivate"  # call the spouts' deactivate(); no more next_tuple
DRAIN: Final = "drain"  # the run is ending: batching bolts flush what they hold
#: every spout is exhausted and nothing is in flight but what bolts hold: windowed bolts fire what
#: they hold and release it (without it their trees, so the run, could never complete)
END_INPUT: Final = "end_input"
STOP: Final = "stop"  # flush, send BYE with the final counters, exit
SAMPLE: Final = "sample"  # capture a component's emits for a while; they ride back with the STATS replies
#: checkpointed state (docs/state.md): start checkpoint ``n`` (spouts record their position and send
#: barriers), and checkpoint ``n`` is committed (spouts acknowledge at their source, sinks write out)
CHECKPOINT: Final = "checkpoint"
COMMITTED: Final = "committed"

# -- both ways ---------------------------------------------------------------------------------
PROBE: Final = "probe"  # coordinator: "are you idle?"; worker: idle, done, sent/received counts
STATS: Final = "stats"  # coordinator: a stats round; worker: its counters for that round

# -- worker -> coordinator --------------------------------------------------------------------
HELLO: Final = "hello"  # started: pid, host, data address, tasks, incarnation
READY: Final = "ready"  # every local task ran initialize()
FATAL: Final = "fatal"  # loading the topology or initialize() failed: the run cannot start
SPOUTS_DONE: Final = "spouts_done"  # every local spout is exhausted (its trees may still be in flight)
BYE: Final = "bye"  # the final counters (a STATS reply), captured tuples, then exit
#: tasks of this worker that staged checkpoint ``n``: ``{"n": n, "tasks": {task: [keys, bytes written]}}``
CHECKPOINTED: Final = "checkpointed"
HEARTBEAT: Final = "heartbeat"  # every HEARTBEAT_SECS from the worker's loop: it is turning
HEARTBEAT_SECS: Final = 1.0  # Storm's worker.heartbeat.frequency.secs

TO_WORKER: Final = frozenset(
    {PEERS, PEER, ACTIVATE, DEACTIVATE, DRAIN, END_INPUT, STOP, PROBE, STATS, SAMPLE, CHECKPOINT, COMMITTED}
)
TO_COORDINATOR: Final = frozenset({HELLO, READY, FATAL, SPOUTS_DONE, PROBE, STATS, BYE, HEARTBEAT, CHECKPOINTED})


class PeersMsg(TypedDict):
    t: str
    peers: dict[str, list[Any]]  # str(worker index) -> [address, incarnation]


class PeerMsg(TypedDict):
    t: str
    index: int
    address: str
    inc: int


class ProbeRequest(TypedDict):
    t: str
    n: int


class StatsRequest(TypedDict):
    t: str
    round: int  # echoed in the reply: the coordinator publishes a round only when it is whole


class StopMsg(TypedDict):
    t: str
    round: int  # the final stats round: echoed in BYE


class SampleMsg(TypedDict):
    t: str
    component: str
    stream: str | None  # None: every stream the component declares
    secs: float  # how long to capture (from when the worker gets the message)
    per_task: int  # at most this many tuples per task per STATS reply


class HelloMsg(TypedDict):
    t: str
    index: int
    pid: int
    host: str
    address: str
    tasks: list[int]
    inc: int


class FatalMsg(TypedDict):
    t: str
    where: str
    error: str
    traceback: str


class ProbeReply(TypedDict):
    t: str
    n: int
    idle: bool
    done: bool
    inc: int
    sent: dict[str, list[int]]  # str(peer) -> [peer incarnation, messages sent]
    received: dict[str, int]  # "sender:incarnation" -> messages received


class StatsReply(TypedDict, total=False):
    t: str  # STATS, or BYE for the last one
    index: int
    inc: int
    round: int
    time: float
    tasks: dict[str, dict[str, Any]]  # str(task) -> counters (Worker.task_stats)
    queued: int
    rss: int | None
    peak_rss: int | None
    errors: list[dict[str, Any]]  # new since the last reply: component, task, time, where, error, traceback
    malformed: int  # messages from other workers and the coordinator dropped as malformed, so far
    refused: int  # connections to its data socket refused (no key of this run), so far
    samples: list[list[Any]]  # while sampling: [task, stream, epoch time, values (JSON-able)] since the last reply
    logs: list[list[Any]]  # a worker whose output no pipe reads (a Ray actor): [epoch time, line] since the last reply
    hooks: Any  # BYE only, with test hooks: what WorkerHooks.report() returned (e.g. captured tuples)
