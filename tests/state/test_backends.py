"""The StateBackend contract (squall/state/backend.py), on both backends: SQLite on a file, Redis on
a real redis-server. Each test opens its backend through ``open_backend``, as the runtime does."""

from __future__ import annotations

import pytest
from backend_procs import size

from squall.state import KeyValueState, open_backend
from squall.state.kv import decoded


def test_staged_changes_are_invisible_until_their_checkpoint_is_committed(backend):
    assert backend.committed() == 0
    assert backend.write(0, 1, {b"a": b"1", b"bb": b"22"}) == 6  # bytes written: keys + values
    backend.write(1, 1, {b"x": b"y"})
    assert backend.load(0) == {} and backend.load(1) == {}
    assert backend.tasks() == [] and backend.size(0) == 0 and backend.committed() == 0
    backend.commit(1)
    assert backend.committed() == 1
    assert backend.load(0) == {b"a": b"1", b"bb": b"22"}
    assert backend.load(1) == {b"x": b"y"}
    assert backend.load(7) == {}


def test_commit_folds_checkpoints_in_checkpoint_order_not_write_order(backend):
    backend.write(0, 1, {b"a": b"1", b"b": b"1"})
    backend.commit(1)
    # staged newest first: the order of checkpoints decides, not the order of writes
    backend.write(0, 4, {b"a": b"4"})
    backend.write(0, 3, {b"a": b"3", b"b": b"3", b"c": b"3"})
    backend.write(0, 2, {b"a": b"2", b"b": None, b"c": b"2"})
    backend.commit(3)  # folds 2 then 3; 4 stays pending
    assert backend.committed() == 3
    assert backend.load(0) == {b"a": b"3", b"b": b"3", b"c": b"3"}
    backend.write(0, 5, {b"c": None})
    backend.commit(5)
    assert backend.load(0) == {b"a": b"4", b"b": b"3"}


def test_a_key_changed_in_two_pending_checkpoints_keeps_the_later_change(backend):
    backend.write(0, 1, {b"set-then-deleted": b"1", b"deleted-then-set": b"1"})
    backend.commit(1)
    backend.write(0, 2, {b"set-then-deleted": b"2", b"deleted-then-set": None, b"twice": b"2"})
    backend.write(0, 3, {b"set-then-deleted": None, b"deleted-then-set": b"3", b"twice": b"3"})
    backend.commit(3)
    assert backend.load(0) == {b"deleted-then-set": b"3", b"twice": b"3"}


def test_deletes_remove_keys_and_a_task_left_empty_has_no_state(backend):
    backend.write(0, 1, {b"a": b"1", b"b": b"2"})
    backend.write(1, 1, {b"only": b"1"})
    backend.commit(1)
    assert backend.tasks() == [0, 1]
    backend.write(0, 2, {b"a": None, b"never-there": None})
    backend.write(1, 2, {b"only": None})
    backend.commit(2)
    assert backend.load(0) == {b"b": b"2"}
    assert backend.load(1) == {}
    assert backend.tasks() == [0]


def test_writing_a_checkpoint_again_replaces_what_it_staged(backend):
    backend.write(0, 1, {b"a": b"first", b"b": b"first"})
    backend.write(0, 1, {b"a": b"second"})
    backend.write(0, 1, {})  # an empty write replaces too
    backend.write(0, 1, {b"c": b"third"})
    backend.commit(1)
    assert backend.load(0) == {b"c": b"third"}


def test_discard_pending_forgets_what_was_never_committed(backend):
    backend.write(0, 1, {b"a": b"1"})
    backend.commit(1)
    backend.write(0, 2, {b"a": b"2", b"b": b"2"})
    backend.write(1, 3, {b"c": b"3"})
    backend.discard_pending()
    assert backend.committed() == 1
    backend.commit(3)  # nothing left to fold
    assert backend.load(0) == {b"a": b"1"} and backend.load(1) == {}
    backend.write(0, 4, {b"a": b"4"})  # and the next checkpoint goes on as usual
    backend.commit(4)
    assert backend.load(0) == {b"a": b"4"}


def test_a_checkpoint_not_above_the_committed_one_is_refused(backend):
    with pytest.raises(ValueError, match="checkpoint 0 is committed already"):
        backend.commit(0)
    backend.write(0, 2, {b"a": b"2"})
    backend.commit(2)
    for n in (1, 2):
        with pytest.raises(ValueError, match=r"cannot commit checkpoint \d of topology .*checkpoint 2 is committed"):
            backend.commit(n)
        with pytest.raises(ValueError, match=r"cannot write checkpoint \d"):
            backend.write(0, n, {b"a": b"late"})  # a late writer: its change would land out of order
    assert backend.committed() == 2 and backend.load(0) == {b"a": b"2"}
    backend.write(0, 3, {b"a": b"3"})
    backend.commit(3)
    assert backend.load(0) == {b"a": b"3"}


def test_reset_deletes_everything_of_this_topology_only(backend_spec, open_instance):
    backend = open_instance()
    other = open_backend(backend_spec.topology + "-other", backend_spec.conf)
    try:
        for b in (backend, other):
            b.write(0, 1, {b"a": b"1"})
            b.commit(1)
            b.write(0, 2, {b"a": b"2"})
        backend.reset()
        assert backend.committed() == 0 and backend.tasks() == [] and backend.load(0) == {}
        backend.commit(2)  # checkpoint 2's pending changes went with the reset
        assert backend.load(0) == {}
        assert other.committed() == 1 and other.load(0) == {b"a": b"1"}
        other.commit(2)
        assert other.load(0) == {b"a": b"2"}
    finally:
        other.reset()
        other.close()


def test_size_counts_the_bytes_of_keys_and_values(backend):
    backend.write(0, 1, {b"abc": b"12345", b"d": b""})
    backend.write(3, 1, {b"k": b"v" * 1000})
    backend.commit(1)
    assert backend.size(0) == 3 + 5 + 1
    assert backend.size(3) == 1001
    assert backend.size(9) == 0
    assert backend.tasks() == [0, 3]
    # kept up to date by each commit: values grown and shrunk, keys added and deleted, twice in one commit
    backend.write(0, 2, {b"abc": b"1", b"d": b"dddd", b"new": b"", b"missing": None})
    backend.write(0, 3, {b"abc": None, b"new": b"nn", b"d": b"d"})
    backend.write(3, 2, {b"k": None})
    backend.commit(3)
    assert backend.load(0) == {b"d": b"d", b"new": b"nn"}
    assert backend.size(0) == 2 + 5
    assert backend.size(3) == 0 and backend.tasks() == [0]
    backend.write(3, 4, {b"": b""})  # an empty key and value: state that takes no bytes
    backend.commit(4)
    assert backend.tasks() == [0, 3] and backend.size(3) == 0 and backend.load(3) == {b"": b""}


def test_any_bytes_round_trip(backend):
    """Keys and values are opaque bytes: NUL, the bytes a backend might use as markers, empty, 1 MB."""
    values = {b"\x00": b"\x00", b"\x01": b"\x01", b"empty": b"", b"\xff\xfe": bytes(range(256)), b"big": b"x" * 2**20}
    backend.write(0, 1, values)
    backend.commit(1)
    assert backend.load(0) == values
    assert backend.size(0) == size(values)


def test_a_checkpoint_of_many_keys(backend):
    changes = {f"key-{i}".encode(): str(i).encode() for i in range(20_000)}
    backend.write(0, 1, changes)
    backend.commit(1)
    backend.write(0, 2, dict.fromkeys(list(changes)[:10_000]))
    backend.commit(2)
    assert backend.load(0) == dict(list(changes.items())[10_000:])
    assert backend.size(0) == size(backend.load(0))


def test_two_instances_see_each_others_writes_and_commits(open_instance):
    worker, coordinator = open_instance(), open_instance()  # as two processes would have them
    worker.write(0, 1, {b"a": b"1"})
    coordinator.write(1, 1, {b"b": b"1"})
    coordinator.commit(1)  # folds what the other instance staged
    assert worker.committed() == 1
    assert worker.load(0) == {b"a": b"1"} and worker.load(1) == {b"b": b"1"}
    worker.write(0, 2, {b"a": b"2"})
    worker.commit(2)
    assert coordinator.load(0) == {b"a": b"2"} and coordinator.committed() == 2
    with pytest.raises(ValueError, match="committed already"):
        coordinator.commit(2)


def test_committed_state_outlives_the_instance(backend_spec, open_instance):
    first = open_instance()
    first.write(0, 1, {b"a": b"1"})
    first.commit(1)
    first.write(0, 2, {b"a": b"2"})
    first.close()
    again = open_instance()  # a new run of the same topology
    assert again.committed() == 1 and again.load(0) == {b"a": b"1"}
    again.discard_pending()
    again.commit(2)
    assert again.load(0) == {b"a": b"1"}


def test_a_key_value_state_checkpointed_and_restored(open_instance):
    """KeyValueState's changes, staged and committed, restore the same dict (tuple keys included)."""
    backend = open_instance()
    state = KeyValueState()
    state["word"] = 3
    state[("pair", 2)] = {"nested": [1, 2]}
    state["gone"] = 1
    backend.write(5, 1, state.take_changes())
    backend.commit(1)
    del state["gone"]
    state["word"] += 1
    state[("pair", (1, 2))] = None
    backend.write(5, 2, state.take_changes())
    backend.commit(2)
    restored = KeyValueState.restored(open_instance().load(5))
    assert restored == state == {"word": 4, ("pair", 2): {"nested": [1, 2]}, ("pair", (1, 2)): None}
    assert restored.changed == set()
    assert decoded(backend.load(5)) == state
    assert backend.size(5) == size(backend.load(5))


def test_an_unknown_provider_is_a_config_error_naming_the_choices():
    from squall.errors import ConfigError

    with pytest.raises(ConfigError, match=r"topology.state.provider=.rocksdb. .* use one of redis, sqlite"):
        open_backend("t", {"topology.state.provider": "rocksdb"})


def test_the_default_provider_is_sqlite(tmp_path):
    backend = open_backend("t", {"squall.state.dir": str(tmp_path)})
    try:
        assert type(backend).__name__ == "SqliteBackend"
        assert (tmp_path / "t.sqlite3").exists()
    finally:
        backend.close()
