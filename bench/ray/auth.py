"""(5) Ray's token authentication with ray.cluster_utils: on, and who gets in.

    python bench/ray/auth.py

Sets ``RAY_AUTH_MODE=token`` and a fresh ``RAY_AUTH_TOKEN`` (a random one, never written to disk), starts a
head + 2 nodes cluster and connects a driver; then connects three more driver processes with a fresh
``$HOME`` (so no ``~/.ray`` token file is found): with the token, with none, with a wrong one, and reports
which could run a task and what the others saw.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time

import _cluster

PROBE = """
import sys, time, ray
t = time.perf_counter()
try:
    ray.init(address=sys.argv[1])
    ok = ray.get(ray.remote(num_cpus=0)(lambda: "ran a task").remote(), timeout=20)
    print("OK", ok, round(time.perf_counter() - t, 2))
except Exception as exc:
    print("REFUSED", type(exc).__name__, str(exc).splitlines()[0][:200], round(time.perf_counter() - t, 2))
"""


def probe(address: str, token: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")}
    env["HOME"] = tempfile.mkdtemp(prefix="ray-auth-home-")
    if token is not None:
        env["RAY_AUTH_TOKEN"] = token
    try:
        r = subprocess.run(
            [sys.executable, "-c", PROBE, address], env=env, capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        return "TIMEOUT after 60 s"
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith(("OK", "REFUSED"))]
    return lines[-1] if lines else f"exit {r.returncode}: {r.stderr.strip().splitlines()[-1:]}"


def main() -> None:
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    import ray

    t = time.perf_counter()
    cluster, times = _cluster.start_cluster()
    ray.init(address=cluster.address)
    out: dict[str, object] = {"cluster_start_s": round(times["total"], 2), "driver": "connected"}
    out["driver_task"] = ray.get(ray.remote(num_cpus=0)(lambda: "ran a task").remote())
    out["with_token"] = probe(cluster.address, os.environ["RAY_AUTH_TOKEN"])
    out["without_token"] = probe(cluster.address, None)
    out["wrong_token"] = probe(cluster.address, secrets.token_hex(32))
    out["total_s"] = round(time.perf_counter() - t, 1)
    print(json.dumps(out, indent=1), flush=True)
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main()
