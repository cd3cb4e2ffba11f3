"""``emit`` has a real signature and docstring on Spout and Bolt; the runtime binds the same one."""

from __future__ import annotations

import inspect
import io
import pydoc

import pytest

from squall import Bolt, EmitError, ReliableSpout, Spout, Topology
from squall.runtime.worker import Worker
from squall.topology.config import topology_conf
from squall.topology.tuple import make_tuple

SPOUT_PARAMS = ["values", "tup_id", "stream", "direct_task", "need_task_ids"]
BOLT_PARAMS = ["values", "stream", "anchors", "direct_task", "need_task_ids"]


def params(fn) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values() if p.name != "self"]


def test_signatures():
    assert [n for n, _ in params(Spout.emit)] == SPOUT_PARAMS
    assert [n for n, _ in params(Bolt.emit)] == BOLT_PARAMS
    assert params(ReliableSpout.emit) == params(Spout.emit)
    assert params(Bolt.ack) == [("tup", inspect.Parameter.empty)]
    assert params(Bolt.fail) == [("tup", inspect.Parameter.empty)]


@pytest.mark.parametrize("fn", [Spout.emit, Bolt.emit])
def test_help_shows_every_parameter_and_the_return_value(fn):
    text = pydoc.render_doc(fn, renderer=pydoc.plaintext)
    names = SPOUT_PARAMS if fn is Spout.emit else BOLT_PARAMS
    for name in names:
        assert f":param {name}:" in text
    assert ":returns: the list of receiving task ids when ``need_task_ids``" in text
    assert ":raises EmitError:" in text


class S(Spout):
    outputs = ["n"]


class R(ReliableSpout):
    outputs = ["n"]


class B(Bolt):
    outputs = ["n"]


@pytest.mark.parametrize(
    "call", [lambda: S().emit([1]), lambda: R().emit([1], tup_id=1), lambda: R().emit([1]), lambda: B().emit([1])]
)
def test_emit_outside_a_running_topology_says_so(call):
    with pytest.raises(EmitError, match=r"\.emit\(\) was called outside a running topology"):
        call()


def test_ack_and_fail_outside_a_running_topology_do_nothing():
    tup = make_tuple([1])
    assert B().ack(tup) is None and B().fail(tup) is None


class Topo(Topology):
    s = S.spec()
    r = R.spec()
    b = B.spec(inputs=[s, r])


def test_the_runtime_binds_emit_with_the_documented_parameters():
    conf = topology_conf(Topo.config, {"topology.workers": 1})
    for acking in (None, 0):
        w = Worker(Topo, dict(conf, **{"topology.acker.executors": acking}), 0)
        w.setup()
        kinds = {type(ex.instance): ex.instance for ex in w.executors.values() if hasattr(ex, "instance")}
        assert "emit" in vars(kinds[S]) and "emit" in vars(kinds[B])  # a closure per instance
        assert params(kinds[S].emit) == params(Spout.emit)
        assert params(kinds[B].emit) == params(Bolt.emit)
        assert params(kinds[R]._raw_emit) == params(Spout.emit)
        w.close()


def test_class_docs_point_to_emit():
    out = io.StringIO()
    pydoc.Helper(output=out).help(Bolt)
    assert "emit(self, values" in out.getvalue()
