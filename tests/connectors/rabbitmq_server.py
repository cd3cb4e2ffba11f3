"""A real RabbitMQ broker (Debian's rabbitmq-server) for the tests: started once per session on
127.0.0.1 on a free port, its data in a tmp folder; ``restart()`` stops and starts it again (same
data: durable queues and persistent messages survive). A missing rabbitmq-server fails the tests
(``bash scripts/test.sh`` installs it)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

MISSING = "rabbitmq-server is not installed: run  bash scripts/test.sh  (as root), or apt-get install rabbitmq-server"
BIN = Path("/usr/lib/rabbitmq/bin")  # the Debian package's scripts (its /usr/sbin wrappers su to 'rabbitmq')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RabbitMQServer:
    """One RabbitMQ node of our own (a unique node name, so two runs on one machine do not meet)."""

    def __init__(self, folder: Path):
        if not (BIN / "rabbitmq-server").exists():
            pytest.fail(MISSING)
        self.folder = folder
        self.port = free_port()
        self.node = f"squall{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
        self.proc: subprocess.Popen[bytes] | None = None
        self.epmd_was_running = subprocess.run(["epmd", "-names"], capture_output=True, check=False).returncode == 0
        (folder / "enabled_plugins").write_text("[].\n")
        self.env = {
            **os.environ,
            "HOME": str(folder),  # the Erlang cookie, shared by the server and rabbitmqctl
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(folder / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(folder / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def ctl(self, *args: str, timeout: float = 60) -> str:
        r = subprocess.run(
            [str(BIN / "rabbitmqctl"), "-q", "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if r.returncode:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {r.stdout} {r.stderr}")
        return r.stdout

    def start(self) -> None:
        log = open(self.folder / "server.out", "ab")  # noqa: SIM115 (the server's output, kept with its data)
        self.proc = subprocess.Popen(
            [str(BIN / "rabbitmq-server")], env=self.env, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited: {(self.folder / 'server.out').read_text()[-2000:]}")
            try:
                self.ctl("await_startup", timeout=30)
                return
            except (RuntimeError, subprocess.TimeoutExpired):
                time.sleep(0.3)
        raise RuntimeError("rabbitmq-server did not start within 90 s")

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.ctl("stop")
        except (RuntimeError, subprocess.TimeoutExpired):
            self.proc.kill()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def queue_counts(self, queue: str) -> tuple[int, int]:
        """(messages ready, messages unacknowledged) of ``queue``, as rabbitmqctl shows them."""
        for line in self.ctl("list_queues", "name", "messages_ready", "messages_unacknowledged").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == queue:
                return int(parts[1]), int(parts[2])
        raise KeyError(queue)

    def close(self) -> None:
        self.stop()
        if not self.epmd_was_running:  # ours: the Erlang port mapper stays up after the node stops
            names = subprocess.run(["epmd", "-names"], capture_output=True, text=True, check=False).stdout
            if "name " not in names:
                subprocess.run(["epmd", "-kill"], capture_output=True, check=False)


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory):
    server = RabbitMQServer(tmp_path_factory.mktemp("rabbitmq"))
    server.start()
    try:
        yield server
    finally:
        server.close()
