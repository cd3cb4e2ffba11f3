"""The UI server in this process: an internal error is a JSON 500 without a traceback, the Host check,
the port scan. A run that breaks the API on purpose (its statistics raise) stands in for a bug."""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.request

import pytest

from squall.errors import ConfigError
from squall.ui.server import UiServer, bind


class BrokenRun:
    """A run whose statistics raise (fault injection: a bug in the API's code path)."""

    conf = {"topology.name": "Broken"}

    def statistics(self):
        raise RuntimeError("secret internals /home/me/project/file.py line 12")

    def wait_statistics(self, after=None, timeout=None):
        return after


def fetch(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def server():
    ui = UiServer(BrokenRun(), port=0, scan=False, topology_id="Broken-1")
    ui.start()
    yield ui
    ui.stop()


def test_an_internal_error_is_json_without_a_traceback_and_is_logged(server, caplog):
    with caplog.at_level(logging.ERROR, logger="squall.ui"):
        status, body = fetch(server.url + "/api/v1/topology/summary")
    assert status == 500
    answer = json.loads(body)
    assert answer["error"] == "Internal Server Error"
    assert "RuntimeError" in answer["errorMessage"] and "secret" not in body and "Traceback" not in body
    assert any("secret internals" in r.getMessage() or r.exc_info for r in caplog.records if r.name == "squall.ui")


def test_unknown_paths_and_methods_are_json(server):
    status, body = fetch(server.url + "/nothing")
    assert status == 404 and json.loads(body)["error"] == "Not Found"
    status, body = fetch(server.url + "/api/v1/topology/Broken-1/activate")  # a GET on a POST route
    assert status == 405 and json.loads(body)["error"] == "Method Not Allowed"


def test_the_host_header_must_name_this_machine(server):
    assert fetch(server.url + "/openapi.json")[0] == 200
    assert fetch(server.url + "/openapi.json", {"Host": f"localhost:{server.port}"})[0] == 200
    status, body = fetch(server.url + "/openapi.json", {"Host": "attacker.example:80"})
    assert status == 403 and "attacker.example" in json.loads(body)["errorMessage"]


def test_the_page_or_a_placeholder_is_served(server):
    status, body = fetch(server.url + "/")
    assert status == 200 and "<html" in body.lower()


def test_a_taken_port_moves_to_the_next_only_when_scanning():
    taken = bind("127.0.0.1", 0, scan=False)
    try:
        port = taken.getsockname()[1]
        assert port < 65535  # an ephemeral port (Linux: 32768-60999) always has a next one
        with pytest.raises(ConfigError, match=f"port {port} is taken"):
            bind("127.0.0.1", port, scan=False)
        moved = bind("127.0.0.1", port, scan=True)
        assert moved.getsockname()[1] > port
        moved.close()
    finally:
        taken.close()
    with socket.socket() as s:  # the port is free again once closed (SO_REUSEADDR, no SO_REUSEPORT)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
