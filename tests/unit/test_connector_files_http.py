"""The file and HTTP spouts' logic, driven directly (real files, no worker): positions and the
acked prefix, rotation, truncation, a reused inode, files spread over tasks, retries; and the
config mistakes each one refuses when the topology is built."""

from __future__ import annotations

import logging
import os

import pytest

from squall import InvalidTopologyError, Topology
from squall.connectors import ERROR_STREAM
from squall.connectors.files import FileSpout, read_offsets
from squall.connectors.http_ingest import HttpIngestSpout, parse
from squall.connectors.http_stream import HttpStreamSpout


class Context:
    def __init__(self, index: int = 0, n: int = 1):
        self.component_id = "lines"
        self.task_id = 10 + index
        self.tasks = [10 + i for i in range(n)]

    def component_tasks(self, name):
        return self.tasks


class Lines(FileSpout):
    outputs = ["line"]


def start(conf, index=0, n=1):
    spout = Lines()
    spout.logger = logging.getLogger("test")
    out: list = []
    spout.emit = lambda values, tup_id=None, stream=None, **kw: out.append((stream or "default", values, tup_id))
    spout.initialize({"file.scan.interval.ms": 1, "file.poll.interval.ms": 1, **conf}, Context(index, n))
    return spout, out


def drain(spout, out, rounds=20):
    for _ in range(rounds):
        spout.scan()
        spout.next_poll = 0.0
        spout.next_tuple()
    return [(v[0], t) for s, v, t in out if s == "default"]


def test_the_acked_prefix_is_persisted_and_a_restart_resumes_there(tmp_path):
    (tmp_path / "a.log").write_text("one\ntwo\nthree\nfour")  # "four" is still being written
    conf = {"file.path": str(tmp_path / "*.log"), "file.offsets.dir": str(tmp_path / "off")}
    spout, out = start(conf)
    emitted = drain(spout, out)
    assert [v for v, _ in emitted] == ["one", "two", "three"]
    spout.ack(emitted[0][1])
    spout.ack(emitted[2][1])  # "two" is not acked: the prefix ends before it
    spout.save_offsets()
    assert read_offsets(str(tmp_path / "off")) == {str(tmp_path / "a.log"): 4}
    spout.ack(emitted[1][1])
    spout.save_offsets()
    assert read_offsets(str(tmp_path / "off")) == {str(tmp_path / "a.log"): len("one\ntwo\nthree\n")}
    with open(tmp_path / "a.log", "a") as f:
        f.write("\nfive\n")
    again, out2 = start(conf)  # a restarted task: resumes at "four"
    assert [v for v, _ in drain(again, out2)] == ["four", "five"]


def test_failed_lines_are_replayed_then_given_up_on_the_error_stream(tmp_path):
    (tmp_path / "a.log").write_text("x\n")
    spout, out = start(
        {"file.path": str(tmp_path / "a.log"), "file.max.retries": 2, "file.offsets.dir": str(tmp_path / "o")}
    )
    ((_, tup_id),) = drain(spout, out)
    for _ in range(2):
        spout.fail(tup_id)
        spout.next_tuple()
    assert [v for s, v, t in out if s == "default"] == [["x"]] * 3
    spout.fail(tup_id)
    errors = [v for s, v, _ in out if s == ERROR_STREAM]
    assert len(errors) == 1 and "failed 3 times" in errors[0][2] and errors[0][3] == b"x"
    spout.save_offsets()
    assert read_offsets(str(tmp_path / "o")) == {str(tmp_path / "a.log"): 2}  # given up: acknowledged


def test_rotation_follows_the_renamed_file_and_reads_the_new_one(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("a\nb\n")
    spout, out = start({"file.path": str(log), "file.offsets.dir": str(tmp_path / "o")})
    drain(spout, out)
    with open(log, "a") as f:
        f.write("c\n")
    os.rename(log, tmp_path / "app.log.1")  # logrotate: renamed, a new file takes the name
    log.write_text("d\n")
    with open(tmp_path / "app.log.1", "a") as f:
        f.write("late\n")  # the writer still had the old file open
    assert sorted(v for v, _ in drain(spout, out)) == ["a", "b", "c", "d", "late"]


def test_a_truncated_file_is_read_again_from_its_start(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("first\nsecond\n")
    spout, out = start({"file.path": str(log), "file.offsets.dir": str(tmp_path / "o")})
    first = drain(spout, out)
    log.write_text("new\n")  # copytruncate
    emitted = drain(spout, out)
    assert [v for v, _ in emitted] == ["first", "second", "new"]
    for _, tup_id in emitted:
        spout.ack(tup_id)
    spout.save_offsets()
    assert read_offsets(str(tmp_path / "o")) == {str(log): 4}
    assert first


def test_a_record_of_another_file_with_the_same_inode_is_not_used(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("old line one\nold line two\n")
    conf = {"file.path": str(log), "file.offsets.dir": str(tmp_path / "o")}
    spout, out = start(conf)
    for _, tup_id in drain(spout, out):
        spout.ack(tup_id)
    spout.close()
    st = os.stat(log)
    rec = tmp_path / "o" / f"{st.st_dev}-{st.st_ino}.json"
    assert rec.exists()
    with open(log, "r+") as f:  # same inode, other content (as when an inode is reused)
        f.write("NEW FILE CONTENT.........\nmore\n")
    again, out2 = start(conf)
    assert [v for v, _ in drain(again, out2)] == ["NEW FILE CONTENT.........", "more"]


def test_with_par_2_each_file_is_read_by_one_task(tmp_path):
    for i in range(20):
        (tmp_path / f"{i}.log").write_text(f"{i}\n")
    conf = {"file.path": str(tmp_path), "file.offsets.dir": str(tmp_path / ".o")}
    seen = []
    for index in range(2):
        spout, out = start(conf, index, 2)
        seen.append({v for v, _ in drain(spout, out)})
    assert seen[0] and seen[1] and not seen[0] & seen[1]
    assert seen[0] | seen[1] == {str(i) for i in range(20)}


def topology(spout_spec):
    return type("T", (Topology,), {"src": spout_spec})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (FileSpout.spec(), "needs 'file.path'"),
        (FileSpout.spec(config={"file.path": "x", "file.max.retries": -1}), "file.max.retries=-1 is not a count"),
        (FileSpout.spec(config={"file.path": "x", "file.poll.interval.ms": 0}), "file.poll.interval.ms=0"),
        (FileSpout.spec(config={"file.path": "x", "file.offset.dir": "x"}), "unknown key 'file.offset.dir'"),
        (HttpIngestSpout.spec(), "needs 'http.port'"),
        (HttpIngestSpout.spec(config={"http.port": 70000}), "http.port=70000 is not a TCP port"),
        (HttpIngestSpout.spec(config={"http.port": 8000, "http.ack.mode": "never"}), "http.ack.mode='never'"),
        (HttpIngestSpout.spec(config={"http.port": 8000, "http.host": "0.0.0.0"}), "without a token"),
        (HttpIngestSpout.spec(config={"http.port": 8000, "http.queue.size": 0}), "http.queue.size=0"),
        (HttpStreamSpout.spec(), "needs 'http.stream.url'"),
        (HttpStreamSpout.spec(config={"http.stream.url": "ftp://x/"}), "is not an http(s) URL"),
        (HttpStreamSpout.spec(config={"http.stream.url": "http://x/", "http.stream.protocol": "ws"}), "not a protocol"),
    ],
)
def test_config_mistakes_are_refused_when_the_topology_is_built(spec, message):
    with pytest.raises(InvalidTopologyError) as e:
        topology(spec)
    assert message in str(e.value) and "component 'src'" in str(e.value)


def test_an_ingest_body_is_json_lines_or_one_json_array():
    class Ids(HttpIngestSpout):
        outputs = ["id", "v"]

    decode = Ids().make_decoder({"http.format": "json"})
    lines = parse(decode, b'{"id": 1, "v": 2}\n\n[3, 4]\n{"id": 5}\nnope\n', json_array=False)
    assert lines.values == [[1, 2], [3, 4]]
    assert [(src, reason[:22]) for src, reason, _ in lines.errors] == [
        ("line 4", "the JSON object has no"),
        ("line 5", "Expecting value: line "),
    ]
    array = parse(decode, b'[{"id": 1, "v": 2}, [3, 4], "x"]', json_array=True)
    assert array.values == [[1, 2], [3, 4]] and array.errors[0][0] == "item 2"
    assert parse(decode, b"[1,", json_array=True).errors[0][0] == "body"


def test_lines_appended_after_the_end_are_read_while_next_tuple_is_called_often(tmp_path):
    """Called more often than file.poll.interval.ms (as an idle worker does), the spout still
    reads a file again once that interval has passed since it reached the end."""
    import time

    log = tmp_path / "a.log"
    log.write_text("one\n")
    spout, out = start({"file.path": str(log), "file.offsets.dir": str(tmp_path / "o"), "file.poll.interval.ms": 50})
    deadline = time.monotonic() + 5
    at_end = time.monotonic() + 0.2
    while time.monotonic() < at_end:  # "one", then the end of the file, polled again and again
        spout.next_tuple()
        time.sleep(0.001)
    with open(log, "a") as f:
        f.write("two\n")
    while len(out) < 2 and time.monotonic() < deadline:
        spout.next_tuple()
        time.sleep(0.001)
    assert [v[0] for _, v, _ in out] == ["one", "two"]
