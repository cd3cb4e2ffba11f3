"""The OpenAPI document describes every route of the app, and nothing else; the API's small helpers."""

from __future__ import annotations

import json

from starlette.routing import Mount, Route

from squall.ui.api import RunView, grouping_label, json_safe, pretty_secs
from squall.ui.app import build
from squall.ui.openapi import document


def routes():
    app = build(RunView(coordinator=None, topology_id="T-1", token="t"), host="0.0.0.0")  # no Host check wrapper
    out = set()
    for r in app.routes:
        if isinstance(r, Route):
            out |= {(r.path, m.lower()) for m in r.methods or () if m != "HEAD"}
        elif isinstance(r, Mount):
            out.add((r.path + "/{path}", "get"))
    return out


def test_every_route_is_in_the_document_and_every_path_is_a_route():
    doc = document()
    described = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routes() == described


def test_the_document_is_openapi_3_json_with_resolvable_refs():
    doc = document()
    assert doc["openapi"].startswith("3.")
    text = json.dumps(doc)
    for name in doc["components"]["schemas"]:
        assert f'"#/components/schemas/{name}"' in text or name in ("ComponentError",)
    refs = {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}
    assert refs <= set(doc["components"]["schemas"])
    for path, ops in doc["paths"].items():
        params = {p["name"] for op in ops.values() for p in op.get("parameters", []) if p["in"] == "path"}
        assert params == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}, path
        for op in ops.values():
            if "security" in op:
                assert {"401", "403"} <= set(op["responses"])


def test_helpers():
    assert pretty_secs(0) == "0s" and pretty_secs(59.9) == "59s" and pretty_secs(3600) == "1h 0m 0s"
    assert pretty_secs(90061) == "1d 1h 1m 1s"
    assert grouping_label({"type": "fields", "fields": ["a", "b"]}) == "fields(a, b)"
    assert grouping_label({"type": "shuffle"}) == "shuffle"
    assert json_safe({"a": float("nan"), 1: (1, {2}), "o": object}) == {
        "a": "nan",
        "1": [1, [2]],
        "o": str(object),
    }
