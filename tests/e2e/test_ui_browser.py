"""The web UI in a real browser: Debian's headless Chromium driven by Playwright, on a running word count.

Playwright's own browser download is not used (it fails behind firewalls): the test launches the
system's ``/usr/bin/chromium`` (``apt-get install chromium``; ``scripts/test.sh`` installs it). A
screenshot of the page is saved in the test's tmp folder and, when ``SQUALL_ARTIFACTS`` names a
folder, there too.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright import sync_api  # the [test] extra; the browser is Debian's chromium (scripts/test.sh)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000  # every wait is on a condition; this is only how long before it fails
UI_LINE = re.compile(r"\[squall\] UI: (http://\S+)\s+\(token for POST actions: (\S+)\)")

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def save_artifact(page, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    artifacts = os.environ.get("SQUALL_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / name)
    return shot


def cell_value(page, selector: str) -> float:
    return float(page.get_attribute(selector, "data-value") or 0)


def wait_rising(page, selector: str) -> None:
    """Wait until the number in ``selector``'s data-value is above 0, then until it grows again."""
    page.wait_for_function(
        "sel => Number(document.querySelector(sel)?.dataset.value || 0) > 0", arg=selector, timeout=WAIT_MS
    )
    first = cell_value(page, selector)
    page.wait_for_function(
        "([sel, v]) => Number(document.querySelector(sel)?.dataset.value || 0) > v",
        arg=[selector, first],
        timeout=WAIT_MS,
    )


def wait_status(page, status: str) -> None:
    page.wait_for_function("s => document.querySelector('#status').dataset.status === s", arg=status, timeout=WAIT_MS)


def test_the_page_shows_a_running_word_count_and_acts_on_it(squall_cli, browser, tmp_path):
    run = squall_cli("run", "examples/wordcount/topology.py", "--ui-port", "0")
    at = run.wait_line(UI_LINE.search, timeout=60)
    url, token = UI_LINE.search(run.lines()[at]).groups()

    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    # Offline: every asset is served by the package (users run behind firewalls; no CDN). A request
    # anywhere else is aborted and recorded.
    foreign: list[str] = []

    def only_the_ui(route):
        if route.request.url.startswith(url):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_ui)
    page.goto(url)

    # The counts rise, live, without a reload (all time: a 1-minute window's counts level off).
    page.wait_for_selector("#topo-name:text('WordCount')", timeout=WAIT_MS)
    wait_status(page, "ACTIVE")
    page.click("#window button[data-window=':all-time']")
    page.wait_for_selector("#spouts-hint:text('all time')", timeout=WAIT_MS)
    wait_rising(page, "#spouts tr[data-component=word_spout] td.emitted")
    wait_rising(page, "#bolts tr[data-component=count_bolt] td.executed")

    # The graph: the two components of examples/wordcount/topology.py and the stream between them.
    page.wait_for_selector("#graph g.node[data-component=count_bolt]", timeout=WAIT_MS)
    nodes = page.eval_on_selector_all("#graph g.node", "els => els.map(e => e.dataset.component).sort()")
    assert nodes == ["count_bolt", "word_spout"]
    assert not foreign, f"the page asked for assets outside the UI: {foreign}"
    edges = page.eval_on_selector_all(
        "#graph g.edge", "els => els.map(e => [e.dataset.source, e.dataset.target, e.dataset.stream, e.textContent])"
    )
    assert len(edges) == 1, edges
    source, target, stream, label = edges[0]
    assert (source, target, stream) == ("word_spout", "count_bolt", "default")
    assert "fields" in label and "word" in label, label

    # A component's panel: its tasks (count_bolt has par=2).
    page.click("#graph g.node[data-component=count_bolt]")
    page.wait_for_function("document.querySelectorAll('#c-executors tbody tr').length === 2", timeout=WAIT_MS)
    assert "#component=count_bolt" in page.url
    page.click("#drawer-close")
    page.wait_for_selector("#drawer", state="hidden", timeout=WAIT_MS)

    # Deactivate: the page asks for the token; a wrong one is refused and nothing changes.
    page.click("#btn-deactivate")
    page.wait_for_selector("#token-dialog[open]", timeout=WAIT_MS)
    page.fill("#token-input", "not-the-token")
    page.click("#token-ok")
    page.wait_for_selector("#token-dialog[open] #token-error:not([hidden])", timeout=WAIT_MS)
    assert "403" in page.text_content("#token-error")
    assert page.get_attribute("#status", "data-status") == "ACTIVE"
    page.fill("#token-input", token)
    page.click("#token-ok")
    wait_status(page, "INACTIVE")
    assert page.text_content("#status") == "inactive"

    # Activate again: the token is remembered for the tab.
    page.click("#btn-activate")
    wait_status(page, "ACTIVE")
    wait_rising(page, "#spouts tr[data-component=word_spout] td.emitted")

    shot = save_artifact(page, tmp_path, "ui-wordcount.png")
    assert shot.stat().st_size > 10_000

    # A second tab opened with the token in the address keeps it and strips it from the address bar.
    tab = browser.new_page(viewport={"width": 1440, "height": 1000})
    tab.on("pageerror", lambda e: page_errors.append(str(e)))
    tab.goto(f"{url.rstrip('/')}/#token={token}")
    tab.wait_for_selector("#btn-token.set", timeout=WAIT_MS)
    assert token not in tab.url and "#token" not in tab.url, tab.url
    wait_status(tab, "ACTIVE")

    # Kill, after the confirmation (no token asked: the address gave it): the run ends.
    tab.click("#btn-kill")
    tab.wait_for_selector("#kill-dialog[open]", timeout=WAIT_MS)
    tab.click("#kill-ok")
    _, _, err = run.finish(timeout=60)
    assert "kill" in err.lower(), err[-2000:]
    assert not tab.is_visible("#token-dialog")
    assert page_errors == []
