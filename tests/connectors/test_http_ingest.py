"""HttpIngestSpout on real workers: a client POSTs 50,000 numbered messages (waiting Retry-After
whenever it is answered 429) and every accepted one reaches the sink; refusals: a full queue (429 +
Retry-After), a bad token (401), bad lines (on the error stream, counted in the answer), and a
``processed`` answer that comes once the lines were processed."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import http_topologies as T
from connector_harness import read_seen, run_killing

N = 50_000
PER_REQUEST = 500


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(port: int, body: bytes, token: str | None = None, content_type: str = "application/x-ndjson"):
    """(status, headers, answer) of one POST; retries while the server is not up yet."""
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    deadline = time.monotonic() + 60
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("POST", "/", body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), json.loads(resp.read() or b"null")
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        finally:
            conn.close()


def ndjson(ids) -> bytes:
    return b"".join(b'{"id": %d}\n' % n for n in ids)


def test_every_accepted_message_reaches_the_sink(tmp_path):
    port = free_port()
    accepted: list[int] = []
    too_many = [0]

    def client():
        for start in range(0, N, PER_REQUEST):
            ids = range(start, start + PER_REQUEST)
            while True:
                status, headers, answer = post(port, ndjson(ids))
                if status != 429:
                    break
                too_many[0] += 1
                time.sleep(float(headers["retry-after"]))
            assert status == 202, (status, answer)
            assert answer["accepted"] == PER_REQUEST and answer["rejected"] == 0
            accepted.extend(ids)

    sender = threading.Thread(target=client, daemon=True)
    sender.start()
    expected = {str(n) for n in range(N)}

    def done() -> bool:
        return not sender.is_alive() and expected <= set(read_seen(str(tmp_path)))

    conf = {"http.port": port, "test.dir": str(tmp_path), "http.queue.size": 5000, "http.retry.after.secs": 1}
    run_killing(T.IngestToSink, conf, victim="ingest", done=done, kills=0)
    assert len(accepted) == N
    seen = read_seen(str(tmp_path))
    assert set(seen) == expected and len(seen) == N  # nothing failed here: no replays, no duplicates


def test_refusals_full_queue_bad_token_bad_lines_and_the_processed_answer(tmp_path):
    port = free_port()
    token = "s3cret-token"
    answers: dict[str, object] = {}

    def client():
        answers["no token"] = post(port, ndjson(range(3)))
        answers["bad token"] = post(port, ndjson(range(3)), token="wrong")
        answers["bad lines"] = post(port, b'{"id": 1}\nnot json\n{"other": 2}\n{"id": 3}\n', token=token)
        answers["array"] = post(port, json.dumps([{"id": 10}, {"id": 11}, 5]).encode(), token, "application/json")
        answers["too big"] = post(port, ndjson(range(101)), token=token)
        statuses = []
        for k in range(40):  # the sink takes 10 ms a tuple, 20 in flight, 100 queued at most
            status, headers, _ = post(port, ndjson(range(1000 + 50 * k, 1050 + 50 * k)), token=token)
            statuses.append((status, headers.get("retry-after")))
            if status == 429:
                break
        answers["flood"] = statuses

    sender = threading.Thread(target=client, daemon=True)
    sender.start()

    def done() -> bool:
        return not sender.is_alive() and len(read_seen(str(tmp_path / "errors"))) >= 3

    conf = {"http.port": port, "test.dir": str(tmp_path), "http.token": token, "test.sleep": 0.01}
    run_killing(T.IngestToSlowSink, conf, victim="ingest", done=done, kills=0)
    assert answers["no token"][0] == 401 and "Bearer" in answers["no token"][2]["error"]
    assert answers["bad token"][0] == 401
    status, _, answer = answers["bad lines"]
    assert status == 202 and answer["accepted"] == 2 and answer["rejected"] == 2, answer
    status, _, answer = answers["array"]
    assert status == 202 and answer["accepted"] == 2 and answer["rejected"] == 1, answer
    assert answers["too big"][0] == 413
    flood = answers["flood"]
    assert flood[-1] == (429, "1"), flood  # the queue filled up: refused with Retry-After
    errors = dict(e.split("\t", 1) for e in read_seen(str(tmp_path / "errors")))
    assert "Expecting value" in errors["line 2"] and "no field 'id'" in errors["line 3"]
    assert "neither an object nor an array" in errors["item 2"]
    seen = set(read_seen(str(tmp_path)))
    assert {"1", "3", "10", "11"} <= seen


def test_processed_mode_answers_once_the_lines_were_processed(tmp_path):
    port = free_port()
    answers = []

    def client():
        for k in range(3):
            t0 = time.monotonic()
            answers.append((post(port, ndjson(range(k * 20, k * 20 + 20))), time.monotonic() - t0))
            # every line of that request is recorded by the sink when the answer comes
            answers.append(len(set(read_seen(str(tmp_path))) & {str(n) for n in range(k * 20, k * 20 + 20)}))

    sender = threading.Thread(target=client, daemon=True)
    sender.start()
    conf = {"http.port": port, "test.dir": str(tmp_path), "http.ack.mode": "processed", "test.sleep": 0.02}
    run_killing(T.IngestToSlowSink, conf, victim="ingest", done=lambda: not sender.is_alive(), kills=0)
    for (status_headers_answer, _secs), recorded in zip(answers[::2], answers[1::2], strict=True):
        status, _, answer = status_headers_answer
        assert status == 200 and answer["processed"] == 20 and answer["failed"] == 0, answer
        assert recorded == 20
