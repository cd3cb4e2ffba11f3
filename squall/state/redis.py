"""The Redis state backend (``topology.state.provider = redis``): checkpoints in a Redis server
(``topology.state.redis.url``) that every node of a cluster reaches, through redis-py
(``pip install 'squall[redis]'``).

Keys, under ``squall:state:<topology>:`` (``%`` and ``:`` in the name escaped as ``%25``, ``%3A``):

* ``committed``: the last committed checkpoint id (a string; missing: 0);
* ``pending:<checkpoint>:<task>``: a hash of what ``write`` staged, each value tagged by its first
  byte (``\\x01`` + value: set; ``\\x00``: deleted);
* ``pending``: a sorted set of those ``<checkpoint>:<task>`` names, scored by checkpoint;
* ``state:<task>``: a hash, the task's committed state; ``tasks``: the set of tasks that have one;
* ``sizes``: a hash, per task the bytes of its state's fields and values (kept by ``commit``);
* ``commit.token``: the token of the last commit (a client retrying a commit whose reply was lost
  learns that it succeeded instead of being refused).

``write`` replaces a pending hash in one MULTI (DEL, HSET, ZADD), WATCHing ``committed`` so that a
checkpoint at or below it is refused. ``commit`` is one Lua script (Redis runs it alone): it folds
the pending hashes of checkpoints ``<= n`` into the state hashes in checkpoint order, deletes them
and sets ``committed``; the append-only file logs it as one MULTI block, so even a Redis crash
leaves all of it or none. All keys of a topology are in one Redis: a sharded Redis Cluster is not
supported (the script touches keys it computes).

While Redis cannot be reached, every call tries again for up to ``OUTAGE_SECS`` (a restart or a
failover goes unnoticed), then raises a StateError naming the URL and the fix.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

from squall.errors import ConfigError, StateError
from squall.state.backend import StateBackend

if TYPE_CHECKING:
    import redis as redis_py

T = TypeVar("T")

DEFAULT_URL = "redis://127.0.0.1:6379/0"
CONNECT_TIMEOUT_SECS = 2.0
SOCKET_TIMEOUT_SECS = 30.0  # a commit folding a large checkpoint runs for a while in Redis
#: how long a call tries again while Redis cannot be reached (a restart or a failover rides through;
#: the workers' heartbeat timeout, 30 s, is longer): then StateError
OUTAGE_SECS = 10.0
SET, DELETED = b"\x01", b"\x00"

# KEYS: committed, pending index, tasks, commit token, sizes; ARGV: n, key prefix, token.
# Returns {1, n} when committed, {0, committed} when refused.
COMMIT = """
local n = tonumber(ARGV[1])
local committed = tonumber(redis.call('GET', KEYS[1]) or '0')
if n <= committed then
  if n == committed and redis.call('GET', KEYS[4]) == ARGV[3] then return {1, committed} end
  return {0, committed}
end
local touched = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])) do
  local task = string.match(member, ':(.*)$')
  local pending = ARGV[2] .. 'pending:' .. member
  local target = ARGV[2] .. 'state:' .. task
  local fields = redis.call('HGETALL', pending)
  local delta = 0
  for i = 1, #fields, 2 do
    local key, value = fields[i], fields[i + 1]
    local old = redis.call('HSTRLEN', target, key)
    if string.byte(value, 1) == 1 then
      value = string.sub(value, 2)
      if redis.call('HSET', target, key, value) == 1 then
        delta = delta + #key + #value
      else
        delta = delta + #value - old
      end
    elseif redis.call('HDEL', target, key) == 1 then
      delta = delta - #key - old
    end
  end
  redis.call('DEL', pending)
  if delta ~= 0 then redis.call('HINCRBY', KEYS[5], task, delta) end
  touched[task] = target
end
for task, target in pairs(touched) do
  if redis.call('EXISTS', target) == 1 then
    redis.call('SADD', KEYS[3], task)
  else
    redis.call('SREM', KEYS[3], task)
    redis.call('HDEL', KEYS[5], task)
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[4], ARGV[3])
return {1, n}
"""

# KEYS: pending index; ARGV: key prefix
DISCARD = """
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  redis.call('DEL', ARGV[1] .. 'pending:' .. member)
end
redis.call('DEL', KEYS[1])
"""

# KEYS: committed, pending index, tasks, commit token, sizes; ARGV: key prefix
RESET = (
    DISCARD.replace("KEYS[1]", "KEYS[2]")
    + """
for _, task in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  redis.call('DEL', ARGV[1] .. 'state:' .. task)
end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4], KEYS[5])
"""
)


def key_prefix(topology: str) -> str:
    return "squall:state:" + topology.replace("%", "%25").replace(":", "%3A") + ":"


def redacted(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _import_redis() -> Any:
    try:
        import redis
    except ImportError as e:
        raise ConfigError(
            "topology.state.provider=redis needs redis-py, which is not installed"
            " -> pip install 'squall[redis]' (or: pip install redis)"
        ) from e
    return redis


class RedisBackend(StateBackend):
    """Checkpoints of one topology in Redis, shared by every process that reaches the server."""

    def __init__(self, topology: str, conf: Mapping[str, Any]):
        super().__init__(topology, conf)
        redis = self._redis = _import_redis()
        self.url = str(conf.get("topology.state.redis.url") or DEFAULT_URL)
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        try:
            self._r: redis_py.Redis = redis.Redis.from_url(
                self.url,
                socket_connect_timeout=CONNECT_TIMEOUT_SECS,
                socket_timeout=SOCKET_TIMEOUT_SECS,
                retry=Retry(NoBackoff(), 0),  # _call retries, for OUTAGE_SECS
                decode_responses=False,
            )
        except ValueError as e:
            raise ConfigError(
                f"topology.state.redis.url={redacted(self.url)!r} is not a Redis URL ({e})"
                " -> use redis://HOST:PORT/DB (or rediss:// for TLS, unix:///path/to/socket)"
            ) from e
        prefix = key_prefix(topology)
        self._prefix = prefix
        self._keys = [prefix + k for k in ("committed", "pending", "tasks", "commit.token", "sizes")]
        self._commit = self._r.register_script(COMMIT)
        self._discard = self._r.register_script(DISCARD)
        self._reset = self._r.register_script(RESET)
        self._call(self._r.ping)  # fail now, naming the URL, rather than at the first checkpoint

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, again while Redis cannot be reached (a restart, a failover, the
        dataset loading) for up to OUTAGE_SECS; then, or on an error reply, a StateError naming the
        URL and the fix. Every call here may run twice: each is idempotent (a commit by its token)."""
        redis = self._redis
        deadline = time.monotonic() + OUTAGE_SECS
        delay = 0.05
        while True:
            try:
                return fn(*args, **kwargs)
            except (redis.exceptions.AuthenticationError, redis.exceptions.AuthorizationError) as e:
                raise self._refused(e) from e
            except (redis.ConnectionError, redis.TimeoutError) as e:
                if time.monotonic() + delay > deadline:
                    raise StateError(
                        f"the redis state backend cannot reach {redacted(self.url)} ({type(e).__name__}: {e};"
                        f" tried for {OUTAGE_SECS:.0f} s) -> is redis-server running there? Start it, or set"
                        " topology.state.redis.url"
                    ) from e
                time.sleep(delay)
                delay = min(2 * delay, 1.0)
            except redis.RedisError as e:
                raise self._refused(e) from e

    def _refused(self, e: Exception) -> StateError:
        return StateError(
            f"the redis state backend at {redacted(self.url)} refused a command ({type(e).__name__}: {e})"
            " -> check the server's log (memory limit, a read-only replica) and the password in the URL"
        )

    def committed(self) -> int:
        return int(self._call(self._r.get, self._keys[0]) or 0)

    def write(self, task: int, checkpoint: int, changes: Mapping[bytes, bytes | None]) -> int:
        pending = f"{self._prefix}pending:{checkpoint}:{task}"
        staged = {k: DELETED if v is None else SET + v for k, v in changes.items()}

        def stage(pipe: Any) -> None:  # redis-py runs it again if `committed` changed meanwhile
            committed = int(pipe.get(self._keys[0]) or 0)
            if checkpoint <= committed:
                raise ValueError(
                    f"cannot write checkpoint {checkpoint} of topology {self.topology!r}: checkpoint {committed}"
                    " is committed already (checkpoint ids only grow)"
                )
            pipe.multi()
            pipe.delete(pending)
            if staged:
                pipe.hset(pending, mapping=staged)
            pipe.zadd(self._keys[1], {f"{checkpoint}:{task}": checkpoint})

        self._call(self._r.transaction, stage, self._keys[0])
        return sum(len(k) + (0 if v is None else len(v)) for k, v in changes.items())

    def commit(self, checkpoint: int) -> None:
        token = uuid.uuid4().hex  # the same in every try of this commit
        done, committed = self._call(self._commit, keys=self._keys, args=[int(checkpoint), self._prefix, token])
        if not done:
            raise ValueError(
                f"cannot commit checkpoint {checkpoint} of topology {self.topology!r}: checkpoint {int(committed)}"
                " is committed already (checkpoint ids only grow)"
            )

    def load(self, task: int) -> dict[bytes, bytes]:
        # decode_responses=False: redis-py returns bytes (its stubs say bytes | str)
        return cast(dict[bytes, bytes], self._call(self._r.hgetall, f"{self._prefix}state:{task}"))

    def discard_pending(self) -> None:
        self._call(self._discard, keys=[self._keys[1]], args=[self._prefix])

    def size(self, task: int) -> int:
        return int(self._call(self._r.hget, self._keys[4], str(task)) or 0)

    def tasks(self) -> list[int]:
        return sorted(int(t) for t in self._call(self._r.smembers, self._keys[2]))

    def reset(self) -> None:
        self._call(self._reset, keys=self._keys, args=[self._prefix])

    def close(self) -> None:
        self._r.close()
