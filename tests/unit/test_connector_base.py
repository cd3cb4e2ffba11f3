"""What every connector shares: settings checked when the topology is built, the install hint of a
missing client library, message decoding, the error stream added to every spout's outputs."""

from __future__ import annotations

import pytest

from squall import InvalidTopologyError, Spout, Stream, Topology
from squall.connectors import ERROR_FIELDS, ERROR_STREAM
from squall.connectors.base import REQUIRED, ConnectorSpout, MessageDecoder, MissingExtra, require
from squall.errors import ConfigError
from squall.topology.stream import normalize_outputs


class FakeBrokerSpout(ConnectorSpout, Spout):
    """A connector spout whose settings are checked like a real one's (it is never run here)."""

    connector = "fakebroker"
    prefix = "fakebroker."
    settings = {"fakebroker.url": REQUIRED, "fakebroker.format": "text", "fakebroker.batch": 10}


class MissingLibrarySpout(FakeBrokerSpout):
    client = ("squall_no_such_module_anywhere", "nosuch", "nosuch-client")


class WordsSpout(FakeBrokerSpout):
    outputs = ["word"]


def build(spout_spec, config=None):
    return type("T", (Topology,), {"src": spout_spec, "config": config or {}})


def test_a_required_key_missing_is_refused_with_the_fix():
    with pytest.raises(InvalidTopologyError) as e:
        build(FakeBrokerSpout.spec())
    text = str(e.value)
    assert "component 'src'" in text
    assert "needs 'fakebroker.url'" in text
    assert "FakeBrokerSpout.spec(config={'fakebroker.url': ...})" in text


def test_keys_come_from_the_spec_or_the_topology():
    build(FakeBrokerSpout.spec(config={"fakebroker.url": "x"}))
    build(FakeBrokerSpout.spec(), config={"fakebroker.url": "x"})


def test_an_unknown_key_of_the_prefix_is_a_typo():
    with pytest.raises(InvalidTopologyError, match=r"unknown key .fakebroker\.ulr.*fakebroker\.url"):
        build(FakeBrokerSpout.spec(config={"fakebroker.url": "x", "fakebroker.ulr": "x"}))


def test_a_bad_format_is_refused():
    with pytest.raises(InvalidTopologyError, match=r"fakebroker\.format=.xml. is not a format"):
        build(FakeBrokerSpout.spec(config={"fakebroker.url": "x", "fakebroker.format": "xml"}))


def test_a_missing_client_library_gives_the_install_line_at_load_time():
    with pytest.raises(InvalidTopologyError, match=r"pip install 'squall\[nosuch\]'"):
        build(MissingLibrarySpout.spec(config={"fakebroker.url": "x"}))
    with pytest.raises(MissingExtra, match=r"pip install 'squall\[nosuch\]'"):
        require("squall_no_such_module_anywhere", "nosuch", "nosuch-client")


def test_every_connector_spout_declares_the_error_stream():
    for cls in (FakeBrokerSpout, WordsSpout):
        streams, problems = normalize_outputs(cls.outputs)
        assert not problems
        assert streams[ERROR_STREAM].fields == ERROR_FIELDS
    assert normalize_outputs(WordsSpout.outputs)[0]["default"].fields == ("word",)
    assert normalize_outputs(FakeBrokerSpout.outputs)[0]["default"].fields == ("message",)


def test_a_user_declared_error_stream_is_kept():
    class Own(FakeBrokerSpout):
        outputs = [Stream(["a"]), Stream(ERROR_FIELDS, name=ERROR_STREAM)]

    assert len(Own.outputs) == 2


def test_setting_falls_back_on_the_default():
    assert FakeBrokerSpout.setting({}, "fakebroker.batch") == 10
    assert FakeBrokerSpout.setting({"fakebroker.batch": 3}, "fakebroker.batch") == 3
    with pytest.raises(ConfigError):
        FakeBrokerSpout.setting({}, "fakebroker.url")


@pytest.mark.parametrize(
    ("fmt", "fields", "payload", "values"),
    [
        ("text", ["word"], b"dog", ["dog"]),
        ("bytes", ["raw"], b"\xff\x00", [b"\xff\x00"]),
        ("json", ["word", "n"], b'{"word": "dog", "n": 2, "extra": 1}', ["dog", 2]),
        ("json", ["word", "n"], b'["dog", 2]', ["dog", 2]),
    ],
)
def test_decoding(fmt, fields, payload, values):
    assert MessageDecoder(fmt, fields)(payload) == values


@pytest.mark.parametrize(
    ("fmt", "fields", "payload", "reason"),
    [
        ("text", ["word"], b"\xff\xfe", "utf-8"),
        ("json", ["word"], b"{not json", "Expecting"),
        ("json", ["word", "n"], b'{"word": "dog"}', "no field 'n'"),
        ("json", ["word", "n"], b'["dog"]', "1 value"),
        ("json", ["word"], b"3", "neither an object nor an array"),
    ],
)
def test_undecodable_messages_raise_value_error_with_the_reason(fmt, fields, payload, reason):
    with pytest.raises(ValueError, match=reason):
        MessageDecoder(fmt, fields)(payload)
