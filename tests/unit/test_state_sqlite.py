"""The SQLite backend's own choices: where its file is, how a name becomes a file name, WAL mode,
and a folder it cannot use. (The contract itself: tests/state, on SQLite and Redis.)"""

from __future__ import annotations

import sqlite3

import pytest

from squall.errors import ConfigError
from squall.state import open_backend
from squall.state.sqlite import file_name


def test_the_file_is_named_after_the_topology_in_squall_state_dir(tmp_path):
    backend = open_backend("wordcount", {"squall.state.dir": str(tmp_path / "a" / "b")})  # folders created
    try:
        assert backend.path == tmp_path / "a" / "b" / "wordcount.sqlite3"
        assert backend.path.exists()
    finally:
        backend.close()


def test_the_default_folder_is_squall_state_in_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    backend = open_backend("wordcount", {"squall.state.dir": None})
    try:
        assert backend.path == tmp_path / ".squall" / "state" / "wordcount.sqlite3"
    finally:
        backend.close()


@pytest.mark.parametrize(
    ("topology", "name"),
    [
        ("word_count-2.v1", "word_count-2.v1.sqlite3"),
        ("a/b", "a%2Fb.sqlite3"),
        ("..", "%2E..sqlite3"),
        ("%2F", "%252F.sqlite3"),  # '%' escaped too: "a/b" and "a%2Fb" get two files
        ("top ologie é", "top%20ologie%20%C3%A9.sqlite3"),
        ("c:\\x", "c%3A%5Cx.sqlite3"),
    ],
)
def test_unsafe_characters_are_escaped(topology, name):
    assert file_name(topology) == name


def test_a_long_name_is_shortened_with_a_hash_that_keeps_names_apart():
    a, b = file_name("x" * 300 + "a"), file_name("x" * 300 + "b")
    assert a != b and len(a) <= 255 and len(b) <= 255


def test_an_empty_name_is_refused():
    with pytest.raises(ConfigError, match="name the topology"):
        file_name("")


def test_the_file_is_in_wal_mode_with_its_tables(tmp_path):
    backend = open_backend("t", {"squall.state.dir": str(tmp_path)})
    backend.close()
    db = sqlite3.connect(tmp_path / "t.sqlite3")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"meta", "pending", "state", "sizes"}
    finally:
        db.close()


def test_a_folder_that_cannot_be_created_is_a_config_error_with_the_fix(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConfigError, match=r"squall.state.dir: cannot create .*file.* -> set squall.state.dir"):
        open_backend("t", {"squall.state.dir": str(tmp_path / "file" / "state")})


def test_a_file_that_is_not_a_database_is_a_state_error_naming_it(tmp_path):
    from squall.errors import StateError

    (tmp_path / "t.sqlite3").write_bytes(b"not a database, " * 100)
    with pytest.raises(StateError, match=r"cannot use .*t.sqlite3 \(DatabaseError: file is not a database\) -> check"):
        open_backend("t", {"squall.state.dir": str(tmp_path)})
