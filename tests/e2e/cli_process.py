"""`squall` run in a child process, its output read while it runs, to wait on a line instead of sleeping."""

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


class CliProcess:
    """``python -m squall.cli ARGS``: stdout and stderr are read line by line by two threads, so a
    test can wait for a line (``wait_line``) while the process runs, then ``finish`` it."""

    def __init__(self, *args, cwd=ROOT):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "squall.cli", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        self.pid = self.proc.pid
        self._lines = {"out": [], "err": []}
        self._open = {"out", "err"}
        self._cond = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=("out", self.proc.stdout), daemon=True),
            threading.Thread(target=self._read, args=("err", self.proc.stderr), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _read(self, name, stream):
        for line in stream:
            with self._cond:
                self._lines[name].append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._open.discard(name)
            self._cond.notify_all()

    def lines(self, stream="err"):
        with self._cond:
            return list(self._lines[stream])

    def wait_line(self, match: str | Callable[[str], bool], stream="err", after=0, timeout=30.0) -> int:
        """Index of the first line of ``stream`` (from index ``after`` on) that contains ``match``
        (or for which ``match(line)`` is true). Fails if the stream ends or ``timeout`` passes first."""
        test = match if callable(match) else (lambda line: match in line)
        deadline = time.monotonic() + timeout
        i = after
        with self._cond:
            while True:
                lines = self._lines[stream]
                while i < len(lines):
                    if test(lines[i]):
                        return i
                    i += 1
                left = deadline - time.monotonic()
                if stream not in self._open or left <= 0:
                    what = "ended" if stream not in self._open else f"printed nothing matching in {timeout} s"
                    tail = "\n".join(self._lines["err"][-30:])
                    raise AssertionError(f"squall {what} before a line matching {match!r} on std{stream}:\n{tail}")
                self._cond.wait(left)

    def workers(self, n, timeout=30.0):
        """The first ``n`` worker processes (children) once they have all started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            kids = psutil.Process(self.pid).children()
            if len(kids) >= n:
                return kids
            with self._cond:  # a short wait that ends early if the process prints something
                self._cond.wait(0.05)
        raise AssertionError(f"no {n} workers started in {timeout} s")

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        self.proc.kill()

    def finish(self, timeout=30.0) -> tuple[int, str, str]:
        """Wait for the process to exit; its exit code, stdout and stderr."""
        code = self.proc.wait(timeout=timeout)
        for t in self._readers:
            t.join(timeout=timeout)
        return code, "\n".join(self.lines("out")), "\n".join(self.lines("err"))

    def stop(self):
        """Kill the process if it still runs, and close its pipes (test teardown)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        for t in self._readers:
            t.join(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


def gone(procs, timeout=10.0):
    """Wait until none of ``procs`` (psutil processes) runs (zombies count as gone); those still running."""
    deadline = time.monotonic() + timeout

    def running():
        return [k for k in procs if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]

    left = running()
    while left and time.monotonic() < deadline:
        psutil.wait_procs(left, timeout=min(0.5, max(0.0, deadline - time.monotonic())))
        left = running()
    return left


def squall(*args, cwd=ROOT, env=None, timeout=60):
    """``squall ARGS`` run to its end: (exit status, stdout, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "squall.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def until(check, timeout=60.0, what="the condition"):
    """Poll ``check()`` until it returns something true; that value (fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached in {timeout} s (last: {last!r})")
