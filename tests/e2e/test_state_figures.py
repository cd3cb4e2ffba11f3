"""Per-checkpoint figures of a running stateful topology: in the REST API, in `squall stats` and in the
web UI (a real `squall run`, a real browser)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from cli_process import squall
from test_ui_api import registry_dir, url_of, wait_for  # noqa: F401  (registry_dir: autouse, a folder per test)
from test_ui_browser import WAIT_MS, browser  # noqa: F401  (the fixture)

HERE = Path(__file__).resolve().parent
STATEFUL = f"{HERE / 'state_topologies.py'}:StatefulWordCount"

pytestmark = pytest.mark.timeout(180)


def test_checkpoint_figures_in_the_api_the_terminal_and_the_ui(squall_cli: Any, browser: Any, tmp_path: Path) -> None:  # noqa: F811
    run = squall_cli(
        "run",
        STATEFUL,
        "--ui-port",
        "0",
        "--workers",
        "2",
        "-c",
        "test.rate=2000",  # paced: about a minute of input, the test stops it before
        "-c",
        f"squall.state.dir={tmp_path}",
        "-c",
        "topology.state.checkpoint.interval.ms=300",
    )
    api = url_of(run)
    tid = api.get("/api/v1/topology/summary")["topologies"][0]["id"]
    topo = wait_for(
        "two checkpoints committed",
        lambda: (t := api.get(f"/api/v1/topology/{tid}")).get("checkpoints", {}).get("committed", 0) >= 2 and t,
    )
    cp = topo["checkpoints"]
    assert cp["intervalMs"] == 300 and cp["stateKeys"] > 0 and cp["lastBytes"] > 0 and cp["lastDurationMs"] >= 0
    count = wait_for(
        "the counting bolt's state figures",
        lambda: (c := api.get(f"/api/v1/topology/{tid}/component/count"))["gauges"].get("state_keys") and c,
    )
    assert count["gauges"]["state_keys"] > 0 and "last_checkpoint_bytes" in count["gauges"]

    code, out, err = squall("stats", tid)
    assert code == 0, err
    assert "Checkpoints" in out and "last committed" in out, out
    code, out, err = squall("stats", tid, "--component", "count")
    assert code == 0, err
    assert "Figures" in out and "state keys" in out, out

    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(api.url)
    page.wait_for_selector("#checkpoint-card", timeout=WAIT_MS)
    first = int(page.inner_text("#checkpoint-card .v").lstrip("#"))
    page.wait_for_function(  # live: the card follows the commits without a reload
        "n => Number(document.querySelector('#checkpoint-card .v').textContent.replace('#', '')) > n",
        arg=first,
        timeout=WAIT_MS,
    )
    assert "keys" in page.inner_text("#checkpoint-card")
    run.send_signal(signal.SIGINT)
    code, _, err = run.finish(timeout=60)
    assert code == 0, err
