"""Who may talk to a run's sockets: per-run CURVE keys and a ZAP handler that admits only its workers.

Every run has its own keys, made by the coordinator when it starts (``RunKeys.generate``):

* one *server* keypair, shared by every socket that binds (the coordinator's ROUTER, each
  worker's PULL): a peer connecting to it must know the server's public key;
* one *client* keypair per worker index: a worker's DEALER (to the coordinator) and its PUSH
  sockets (to its peers) present it. A restarted worker gets the same one (it keeps its identity).

CURVE (RFC 26, CurveZMQ) encrypts every connection and proves that the server holds its secret
key; on its own it accepts any client. So every context with a server socket runs a ``ZapHandler``
(ZeroMQ's authentication protocol, RFC 27): it accepts a handshake only from one of the run's
client public keys and names the peer by its worker index (the ZAP user id, which the
coordinator reads on each message instead of trusting the routing id). Server sockets also set
``ZAP_ENFORCE_DOMAIN``: if the handler were missing, handshakes would fail instead of being
accepted. A peer without the keys never gets a message through: not random bytes, not a
well-formed batch, not a control message.

What reaches a worker is the JSON of ``RunKeys.for_worker(index)``: the server keypair, its own
client keypair and the run's client public keys (see ``docs/architecture.md``, threat model).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import zmq
from zmq.utils import z85

log = logging.getLogger("squall.transport.security")

ZAP_ENDPOINT = "inproc://zeromq.zap.01"  # where libzmq asks a context's ZAP handler (RFC 27)
ZAP_DOMAIN = "squall"
REFUSED_LOG_EVERY = 10.0  # seconds between two log lines about refused peers


@dataclass(frozen=True)
class RunKeys:
    """The CURVE keys of one run (Z85 text, 40 characters each)."""

    server_public: str
    server_secret: str
    worker_public: tuple[str, ...]  # per worker index
    worker_secret: tuple[str | None, ...]  # per worker index; a worker knows only its own

    @classmethod
    def generate(cls, n_workers: int) -> RunKeys:
        server_public, server_secret = zmq.curve_keypair()
        pairs = [zmq.curve_keypair() for _ in range(n_workers)]
        return cls(
            server_public.decode(),
            server_secret.decode(),
            tuple(p.decode() for p, _ in pairs),
            tuple(s.decode() for _, s in pairs),
        )

    def extended(self, n_workers: int) -> RunKeys:
        """These keys for ``n_workers`` workers (a rebalance to more workers): the indices beyond the
        generated ones get keypairs derived from the server secret (HMAC-SHA256 of the index: a valid
        X25519 secret), so whoever holds the run's keys (a restarted cluster master) derives the same
        ones without storing them. Fewer workers than keys: the keys unchanged."""
        if n_workers <= len(self.worker_public):
            return self
        public, secret = list(self.worker_public), list(self.worker_secret)
        seed = self.server_secret.encode()
        for index in range(len(public), n_workers):
            raw = hmac.new(seed, f"squall worker key {index}".encode(), hashlib.sha256).digest()
            own = z85.encode(raw)
            public.append(zmq.curve_public(own).decode())
            secret.append(own.decode())
        return RunKeys(self.server_public, self.server_secret, tuple(public), tuple(secret))

    def for_worker(self, index: int) -> dict[str, Any]:
        """What worker ``index`` gets in its spec (JSON): the server keypair, its own keypair, every public key."""
        return {
            "server": [self.server_public, self.server_secret],
            "own": [self.worker_public[index], self.worker_secret[index]],
            "workers": list(self.worker_public),
        }

    @classmethod
    def from_spec(cls, entry: dict[str, Any], index: int) -> RunKeys:
        """The keys in a worker spec's ``keys`` entry (``for_worker``)."""
        server_public, server_secret = entry["server"]
        own_public, own_secret = entry["own"]
        workers = tuple(str(k) for k in entry["workers"])
        if workers[index] != own_public:
            raise ValueError(f"the spec's keys are not worker {index}'s")
        secrets = tuple(own_secret if i == index else None for i in range(len(workers)))
        return cls(str(server_public), str(server_secret), workers, secrets)

    def serve(self, sock: zmq.Socket[bytes]) -> None:
        """Make ``sock`` (before it binds) a CURVE server whose clients the context's ZapHandler checks."""
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.server_secret.encode())
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.server_public.encode())
        sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN.encode())
        sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)  # no handler: refuse, never accept

    def present(self, sock: zmq.Socket[bytes], index: int) -> None:
        """Make ``sock`` (before it connects) present worker ``index``'s keys to the run's servers."""
        secret = self.worker_secret[index]
        if secret is None:
            raise ValueError(f"worker {index}'s secret key is not in these keys")
        sock.setsockopt(zmq.CURVE_SERVERKEY, self.server_public.encode())
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.worker_public[index].encode())
        sock.setsockopt(zmq.CURVE_SECRETKEY, secret.encode())


class ZapHandler:
    """Answers a context's ZAP requests: CURVE handshakes with one of the run's worker keys are
    accepted (user id: the worker index as text); everything else is refused and counted.

    Runs in its own thread, so handshakes are answered whatever the process's main thread is doing
    (a user's ``process`` may block for seconds). Start it before any server socket of the context
    binds. It stops when the context is terminated, or on ``stop()``.
    """

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], keys: RunKeys, name: str = ""):
        self.allowed = {z85.decode(k.encode()): str(i).encode() for i, k in enumerate(keys.worker_public)}
        self.name = name
        self.refused = 0  # handshakes refused (written by the handler's thread, read anywhere)
        self._logged_at = -REFUSED_LOG_EVERY
        self._stop = threading.Event()
        self.sock = ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(ZAP_ENDPOINT)
        self.thread = threading.Thread(target=self._run, name=f"squall-zap{'-' + name if name else ''}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        sock = self.sock
        try:
            while not self._stop.is_set():
                if sock.poll(200):
                    sock.send_multipart(self.answer(sock.recv_multipart()))
        except zmq.ContextTerminated:
            pass
        finally:
            sock.close(linger=0)

    def answer(self, request: list[bytes]) -> list[bytes]:
        """The reply to one ZAP request (``version, id, domain, address, identity, mechanism, credentials...``)."""
        if len(request) < 6:
            return [b"1.0", request[1] if len(request) > 1 else b"", b"400", b"bad request", b"", b""]
        version, request_id, _domain, address, _identity, mechanism = request[:6]
        user = self.allowed.get(request[6]) if mechanism == b"CURVE" and len(request) == 7 else None
        if user is not None:
            return [version, request_id, b"200", b"OK", user, b""]
        self.refused += 1
        now = time.monotonic()
        if now - self._logged_at >= REFUSED_LOG_EVERY:
            self._logged_at = now
            log.warning(
                "%srefused a connection from %s (%s without a key of this run); %d refused so far",
                f"{self.name}: " if self.name else "",
                address.decode(errors="replace") or "?",
                mechanism.decode(errors="replace"),
                self.refused,
            )
        return [version, request_id, b"400", b"not a worker of this run", b"", b""]

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)
