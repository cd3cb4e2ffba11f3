"""The REST API, /metrics and the registry of a real ``squall run`` (started with the CLI, read over HTTP).

Every wait polls the API with a deadline: the machine is small and shared, nothing is timed.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

HERE = Path(__file__).resolve().parent
UI_TOPO = f"{HERE / 'ui_topologies.py'}:UiTopo"
URL_LINE = re.compile(r"\[squall\] UI: (http://\S+)  \(token for POST actions: (\S+)\)")


@pytest.fixture(autouse=True)
def registry_dir(tmp_path, monkeypatch):
    """Each test's runs register in a folder of their own (the child inherits the environment)."""
    folder = tmp_path / "xdg"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder / "squall"


class Api:
    def __init__(self, url: str, token: str):
        self.url = url
        self.token = token

    def call(self, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, object]:
        req = urllib.request.Request(self.url + path, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                body = resp.read()
                status = resp.status
                ctype = resp.headers.get("content-type", "")
        except urllib.error.HTTPError as exc:
            body, status, ctype = exc.read(), exc.code, exc.headers.get("content-type", "")
        return status, json.loads(body) if ctype.startswith("application/json") else body.decode()

    def get(self, path: str) -> object:
        status, body = self.call(path)
        assert status == 200, (path, status, body)
        return body

    def post(self, path: str, token: str | None = "", header: str = "authorization") -> tuple[int, object]:
        token = self.token if token == "" else token
        headers = {}
        if token is not None:
            headers = {"Authorization": f"Bearer {token}"} if header == "authorization" else {"X-Squall-Token": token}
        return self.call(path, "POST", headers)


def start(squall_cli, *args):
    p = squall_cli("run", UI_TOPO, "--ui-port", "0", "--stats-interval", "1", *args)
    return p, url_of(p)


def url_of(p):
    """The API of a run, from the line it printed (the index first: ``lines()`` is a copy)."""
    i = p.wait_line(URL_LINE.search, timeout=60)
    url, token = URL_LINE.search(p.lines()[i]).groups()
    return Api(url, token)


def wait_for(what, probe, timeout=60.0):
    """Poll ``probe()`` until it returns a true value (returned); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def spout(topo):
    return next(s for s in topo["spouts"] if s["spoutId"] == "numbers")


def topology_id(api):
    return api.get("/api/v1/topology/summary")["topologies"][0]["id"]


def rounds_pass(api, tid, n):
    """Wait until ``n`` more stats rounds have been published; the topology page then."""
    first = api.get(f"/api/v1/topology/{tid}")["round"]
    return wait_for(f"{n} stats rounds", lambda: (t := api.get(f"/api/v1/topology/{tid}"))["round"] >= first + n and t)


def test_a_running_topology_through_the_api(squall_cli, registry_dir):
    p, api = start(squall_cli, "--workers", "2")
    summary = api.get("/api/v1/topology/summary")["topologies"]
    assert len(summary) == 1
    tid = summary[0]["id"]
    assert summary[0]["name"] == "UiTopo" and tid.startswith("UiTopo-")
    assert summary[0]["workersTotal"] == 2

    # the registry: one 0600 file naming this run, its URL and token
    entry = registry_dir / f"{tid}.json"
    assert entry.is_file()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert json.loads(entry.read_text()) | {"started": 0} == {
        "id": tid,
        "name": "UiTopo",
        "pid": p.pid,
        "url": api.url,
        "token": api.token,
        "started": 0,
    }

    # counts rise
    first = wait_for("emitted > 0", lambda: spout(api.get(f"/api/v1/topology/{tid}"))["emitted"])
    wait_for("emitted to rise", lambda: spout(api.get(f"/api/v1/topology/{tid}?window=60"))["emitted"] > first)
    topo = api.get(f"/api/v1/topology/{tid}?window=:all-time")
    assert topo["status"] == "ACTIVE" and topo["squallStatus"] == "active"
    assert topo["window"] == ":all-time"
    assert [w["window"] for w in topo["topologyStats"]] == ["60", "600", ":all-time"]
    assert [b["boltId"] for b in topo["bolts"]] == ["judge", "sink"]
    assert topo["configuration"]["topology.workers"] == 2
    assert "squall.ui.token" not in topo["configuration"]
    judge = api.get(f"/api/v1/topology/{tid}/component/judge")
    assert judge["componentType"] == "bolt" and judge["executors"] == 2
    assert len(judge["executorStats"]) == 2 and {e["worker"] for e in judge["executorStats"]} <= {0, 1}
    assert judge["inputStats"] == [{"component": "numbers", "stream": "default", "grouping": "shuffle"}]
    assert [w["window"] for w in judge["boltStats"]] == ["60", "600", ":all-time"]
    viz = api.get(f"/api/v1/topology/{tid}/visualization")
    assert viz["numbers"][":type"] == "spout" and viz["judge"][":type"] == "bolt"
    assert viz["sink"][":inputs"][0][":component"] == "judge"
    assert viz["sink"][":inputs"][0][":grouping"] == "fields(n)"
    workers = api.get(f"/api/v1/topology/{tid}/workers")["workers"]
    assert [w["index"] for w in workers] == [0, 1] and all(w["pid"] and w["alive"] for w in workers)
    series = api.get(f"/api/v1/topology/{tid}/timeseries?component=numbers")
    assert series["components"] == ["numbers"]
    wait_for(
        "a rate in the time series",
        lambda: any(
            pt["numbers"]["emitted_rate"] > 0
            for pt in api.get(f"/api/v1/topology/{tid}/timeseries?component=numbers")["points"]
        ),
    )
    assert api.get("/api/v1/cluster/summary")["stormVersion"].startswith("squall ")
    assert api.get("/api/v1/supervisor/summary")["supervisors"][0]["slotsTotal"] == 2
    assert api.get("/api/v1/nimbus/summary")["nimbuses"][0]["status"] == "Leader"
    assert "/api/v1/topology/{id}" in api.get("/openapi.json")["paths"]

    # /metrics: Prometheus text with the labels
    families = {f.name: f for f in text_string_to_metric_families(api.get("/metrics"))}
    emitted = [s for s in families["squall_emitted"].samples if s.labels["component"] == "numbers"]
    assert emitted and set(emitted[0].labels) == {"topology", "component", "task", "worker"}
    assert emitted[0].labels["topology"] == "UiTopo" and emitted[0].value > 0
    assert {"squall_capacity", "squall_worker_rss_bytes", "squall_up", "squall_state"} <= set(families)

    # 404s and 400s: JSON, no traceback
    for path in (
        "/api/v1/topology/nope",
        f"/api/v1/topology/{tid}/component/nope",
        "/api/v1/nothing/here",
        f"/api/v1/topology/{tid}/logs?worker=7",
    ):
        status, body = api.call(path)
        assert status == 404 and set(body) == {"error", "errorMessage"}, (path, body)
    status, body = api.call(f"/api/v1/topology/{tid}?window=5")
    assert status == 400 and "window" in body["errorMessage"]
    assert api.post("/api/v1/topology/nope/deactivate")[0] == 404

    # POSTs: no token 401, a wrong one 403, and nothing changes
    assert api.post(f"/api/v1/topology/{tid}/deactivate", token=None)[0] == 401
    assert api.post(f"/api/v1/topology/{tid}/deactivate", token="wrong")[0] == 403
    assert api.post(f"/api/v1/topology/{tid}/kill/0", token="wrong", header="x-squall-token")[0] == 403
    status, body = api.post(f"/api/v1/topology/{tid}/rebalance/0")  # a squall run: on one machine
    assert status == 409 and "Ray cluster" in body["errorMessage"], body
    before = spout(api.get(f"/api/v1/topology/{tid}"))["emitted"]
    after = rounds_pass(api, tid, 2)
    assert after["status"] == "ACTIVE" and spout(after)["emitted"] > before

    # deactivate: the spouts stop (emitted stops rising); activate: they resume
    status, body = api.post(f"/api/v1/topology/{tid}/deactivate")
    assert status == 200 and body == {"topologyOperation": "deactivate", "topologyId": tid, "status": "success"}
    wait_for("INACTIVE", lambda: api.get(f"/api/v1/topology/{tid}")["status"] == "INACTIVE")
    settled = spout(rounds_pass(api, tid, 2))["emitted"]
    assert spout(rounds_pass(api, tid, 2))["emitted"] == settled
    assert api.post(f"/api/v1/topology/{tid}/activate", header="x-squall-token")[0] == 200
    wait_for("ACTIVE", lambda: api.get(f"/api/v1/topology/{tid}")["status"] == "ACTIVE")
    wait_for("emitted to rise again", lambda: spout(api.get(f"/api/v1/topology/{tid}"))["emitted"] > settled)

    # kill: the run stops, the process exits 0, the registry entry is gone
    status, body = api.post(f"/api/v1/topology/{tid}/kill/0")
    assert status == 200 and body["topologyOperation"] == "kill"
    code, _out, err = p.finish(timeout=60)
    assert code == 0, err[-3000:]
    assert not entry.exists()


def test_a_finite_reliable_run_adds_up_and_shows_its_error(squall_cli):
    p, api = start(
        squall_cli,
        "--workers",
        "1",
        "--conf",
        "ui.limit=3000",
        "--conf",
        "ui.rate=5000",
        "--conf",
        "ui.raise_at=1505",
        "--conf",
        "squall.ui.token=not-so-secret",
    )
    assert api.token == "not-so-secret"
    tid = topology_id(api)
    done = wait_for(
        "every tree acked or failed",
        lambda: (s := spout(api.get(f"/api/v1/topology/{tid}?window=:all-time")))["acked"] + s["failed"] == 3000 and s,
        timeout=90,
    )
    assert done["emitted"] == 3000
    assert done["failed"] == 300 + 1  # every 10th failed, and 1505 raised
    assert done["acked"] == 3000 - 301
    topo = api.get(f"/api/v1/topology/{tid}")
    assert "squall.ui.token" not in topo["configuration"]
    judge = next(b for b in topo["bolts"] if b["boltId"] == "judge")
    assert judge["errorCount"] == 1 and "ValueError: ui test: refusing 1505" in judge["lastError"]
    assert judge["executed"] == 3000
    errors = api.get(f"/api/v1/topology/{tid}/errors")
    assert errors["errorCount"] == 1
    (e,) = errors["errors"]
    assert e["component"] == "judge" and e["task"] >= 1 and e["worker"] == 0
    assert "refusing 1505" in e["traceback"] and e["where"] == "process"
    comp = api.get(f"/api/v1/topology/{tid}/component/judge?window=:all-time")
    assert [x["error"] for x in comp["componentErrors"]] == [e["error"]]
    assert sum(x["executed"] for x in comp["executorStats"]) == 3000
    assert api.post(f"/api/v1/topology/{tid}/kill/0", header="x-squall-token")[0] == 200
    code, _out, err = p.finish(timeout=60)
    assert code == 0, err[-3000:]


def test_two_runs_get_two_ports_and_a_taken_port_is_refused(squall_cli):
    a = squall_cli("run", UI_TOPO, "--workers", "1", "--conf", "ui.rate=200")
    b = squall_cli("run", UI_TOPO, "--workers", "1", "--conf", "ui.rate=200")
    urls = [url_of(a), url_of(b)]
    assert urls[0].url != urls[1].url
    ids = [topology_id(api) for api in urls]
    for api, tid in zip(urls, ids, strict=True):
        assert api.post(f"/api/v1/topology/{tid}/kill/0")[0] == 200
    for p in (a, b):
        code, _out, err = p.finish(timeout=60)
        assert code == 0, err[-3000:]

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        code, _out, err = squall_cli("run", UI_TOPO, "--ui-port", port).finish(timeout=60)
        assert code == 2 and f"port {port} is taken" in err
    finally:
        taken.close()


def test_no_ui_and_a_non_loopback_host(squall_cli, registry_dir):
    code, _out, err = squall_cli("run", UI_TOPO, "--no-ui", "--workers", "1", "--duration", "1").finish(timeout=60)
    assert code == 0, err[-3000:]
    assert "[squall] UI:" not in err
    assert not registry_dir.exists() or not os.listdir(registry_dir)
    p = squall_cli("run", UI_TOPO, "--ui-host", "0.0.0.0", "--ui-port", "0", "--workers", "1", "--duration", "1")
    code, _out, err = p.finish(timeout=60)
    assert code == 0, err[-3000:]
    assert "[squall] warning: the UI listens on 0.0.0.0" in err
    assert URL_LINE.search(err).group(1).startswith("http://127.0.0.1:")


def test_latencies_logs_samples_and_a_kill_with_a_wait(squall_cli):
    p, api = start(squall_cli, "--workers", "2", "--conf", "ui.rate=1000")
    tid = topology_id(api)
    t = f"/api/v1/topology/{tid}"

    # latencies and capacity from the workers' measurements
    def measured():
        topo = api.get(t + "?window=60")
        judge = next(b for b in topo["bolts"] if b["boltId"] == "judge")
        ok = judge["executeLatency"] > 0 and judge["processLatency"] > 0 and spout(topo)["completeLatency"] > 0
        return ok and judge["capacity"] > 0 and judge

    judge = wait_for("latencies and capacity", measured)
    assert judge["capacity"] < 1.0
    tasks = api.get(t + "/component/judge?window=60")["executorStats"]
    assert all(e["executeLatency"] >= 0 and 0 <= e["capacity"] <= 1.0 for e in tasks)
    viz = api.get(t + "/visualization")
    assert viz["judge"][":latency"] > 0 and viz["numbers"][":latency"] > 0
    workers = api.get(t + "/workers")["workers"]
    assert all(w["uptimeSeconds"] is not None and w["uptimeSeconds"] >= 0 for w in workers)

    # the workers' log lines (stderr and stdout), followed with after=
    def hellos():
        lines = api.get(t + "/logs")["lines"]
        return sum("judge" in x["line"] and "is ready" in x["line"] for x in lines) == 2 and lines

    lines = wait_for("the judges' log lines", hellos)
    assert any("says hello on stdout" in x["line"] for x in lines)
    assert [x["seq"] for x in lines] == sorted(x["seq"] for x in lines)
    page = api.get(t + "/logs?worker=1&limit=5")
    assert len(page["lines"]) <= 5 and all(x["worker"] == 1 for x in page["lines"])
    newer = api.get(f"{t}/logs?after={lines[-1]['seq']}")
    assert all(x["seq"] > lines[-1]["seq"] for x in newer["lines"])

    # sampling the spout's tuples (Storm UI's debug): needs the token
    assert api.post(t + "/component/numbers/debug/enable/10", token=None)[0] == 401
    assert api.post(t + "/component/nope/debug/enable/10")[0] == 404
    status, body = api.post(t + "/component/numbers/debug/enable/10")
    assert status == 200 and body["status"] == "success"
    got = wait_for("sampled tuples", lambda: api.get(t + "/component/numbers/sample")["samples"])
    assert all(s["stream"] == "default" and isinstance(s["values"][0], int) for s in got)
    later = api.get(f"{t}/component/numbers/sample?after={got[-1]['seq']}")
    assert later["next"] >= got[-1]["seq"]

    # kill with a wait: KILLED at once, the spouts stop, activate refused, the process exits 0 after the wait
    started = time.monotonic()
    status, body = api.post(t + "/kill/3")
    assert status == 200 and body["topologyOperation"] == "kill"
    assert api.get(t)["status"] == "KILLED"
    assert api.post(t + "/activate")[0] == 409
    code, _out, err = p.finish(timeout=60)
    assert code == 0, err[-3000:]
    assert time.monotonic() - started >= 3.0
