"""The multilang wire, without processes: cutting stdout into messages, finding junk, script lookup."""

from collections import deque

from squall.runtime.multilang import JUNK, ShellProcess
from squall.topology.shell import ShellBolt, script_candidates


def decode(*frames):
    inbox = deque()
    ok = ShellProcess._decode(list(frames), inbox)
    return ok, list(inbox)


def test_a_chunk_of_messages_decodes_in_order():
    ok, msgs = decode(b'{"command":"emit","tuple":["end"]}', b'{"command":"ack","id":"1"}', b'{"pid":3}')
    assert ok and msgs == [{"command": "emit", "tuple": ["end"]}, {"command": "ack", "id": "1"}, {"pid": 3}]


def test_junk_is_named_and_what_came_before_it_is_kept():
    ok, msgs = decode(b'{"command":"sync"}', b"hello world\n{}")
    assert not ok and msgs[0] == {"command": "sync"} and msgs[1] == (JUNK, b"hello world\n{}")


def test_a_frame_with_two_values_or_a_non_object_is_junk():
    ok, msgs = decode(b'{"a":1},{"b":2}')
    assert not ok and msgs == [(JUNK, b'{"a":1},{"b":2}')]
    ok, msgs = decode(b"[1, 2]")
    assert not ok and msgs == [(JUNK, b"[1, 2]")]


def test_script_candidates_resources_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = tmp_path / "proj"
    assert script_candidates("s.py", str(base)) == [
        str(base / "resources" / "s.py"),
        str(base / "s.py"),
        str(tmp_path / "s.py"),
    ]
    assert script_candidates("/abs/s.py", str(base)) == ["/abs/s.py"]


def test_spec_without_a_script_runs_the_command_with_its_args(tmp_path):
    (tmp_path / "resources").mkdir()
    spec = ShellBolt.spec(command="sh", args=["-c", "true"], base_dir=str(tmp_path))
    cls = spec.component_cls
    assert cls.argv() == ["sh", "-c", "true"] and cls.cwd == str(tmp_path / "resources")
    assert cls.shell_problems() == []
