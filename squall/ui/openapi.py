"""The OpenAPI 3 document of the REST API (served at ``/openapi.json``).

Written by hand next to the routes (``app.py``); ``tests/unit/test_ui_openapi.py`` checks that every
route is described here and every path here is a route.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

try:  # the installed distribution's (``squall/__init__.py`` is not imported here: it is the layer above)
    VERSION = metadata.version("squall")
except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree that is not installed
    VERSION = "unknown"

_NUM = {"type": "number"}
_INT = {"type": "integer"}
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}


def _obj(props: dict[str, Any], required: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(props)
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _arr(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


_ID = {"name": "id", "in": "path", "required": True, "schema": _STR, "description": "the topology id (or its name)"}
_COMPONENT = {"name": "component", "in": "path", "required": True, "schema": _STR}
_WINDOW = {
    "name": "window",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": ["60", "600", ":all-time"], "default": "600"},
    "description": "seconds (Storm's values); a run younger than the window reports what it has",
}
_ERRORS = {
    "400": {"description": "a bad parameter", "content": {"application/json": {"schema": _ref("Error")}}},
    "404": {
        "description": "unknown topology, component or worker",
        "content": {"application/json": {"schema": _ref("Error")}},
    },
}
_POST_ERRORS = {
    **_ERRORS,
    "401": {"description": "no token", "content": {"application/json": {"schema": _ref("Error")}}},
    "403": {"description": "wrong token", "content": {"application/json": {"schema": _ref("Error")}}},
    "409": {
        "description": "the run's state does not allow it",
        "content": {"application/json": {"schema": _ref("Error")}},
    },
}


def _get(summary: str, schema: dict[str, Any], params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params or [],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema}}}, **_ERRORS},
        }
    }


def _post(summary: str, schema: dict[str, Any], params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"bearer": []}, {"header": []}],
            "parameters": params,
            "responses": {
                "200": {"description": "done", "content": {"application/json": {"schema": schema}}},
                **_POST_ERRORS,
            },
        }
    }


_SPOUT_WINDOW = {
    "emitted": _INT,
    "transferred": _INT,
    "acked": _INT,
    "failed": _INT,
    "completeLatency": {"type": "number", "description": "ms, emit to tree completion (sampled)"},
}
_BOLT_WINDOW = {
    "emitted": _INT,
    "transferred": _INT,
    "executed": _INT,
    "acked": _INT,
    "failed": _INT,
    "executeLatency": {"type": "number", "description": "ms in process()"},
    "processLatency": {"type": "number", "description": "ms from receipt to ack"},
    "capacity": {"type": "number", "description": "share of the window spent executing; busiest task's"},
}
_PER_WINDOW = {"window": _STR, "windowPretty": _STR}
_ERROR_FIELDS = {
    "errorCount": _INT,
    "lastError": _STR,
    "errorTime": {"type": "number", "nullable": True, "description": "epoch seconds"},
    "errorLapsedSecs": {"type": "integer", "nullable": True},
}
_COMMON = {
    "id": _STR,
    "name": _STR,
    "status": {
        "type": "string",
        "enum": ["STARTING", "ACTIVE", "INACTIVE", "DRAINING", "COMPLETED", "STOPPED", "KILLED", "FAILED"],
    },
    "squallStatus": {
        "type": "string",
        "enum": ["starting", "active", "inactive", "draining", "completed", "stopped", "killed", "failed"],
    },
    "uptime": _STR,
    "uptimeSeconds": _INT,
    "tasksTotal": _INT,
    "workersTotal": _INT,
    "executorsTotal": _INT,
}

SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": _STR, "errorMessage": _STR}),
    "ComponentError": _obj(
        {
            "component": _STR,
            "time": {"type": "string", "description": "local time, YYYY-MM-DD HH:MM:SS"},
            "errorTime": {"type": "number", "description": "epoch seconds"},
            "errorLapsedSecs": _INT,
            "task": {"type": "integer", "description": "-1: a worker died"},
            "worker": _INT,
            "errorHost": _STR,
            "error": {"type": "string", "description": "Type: message"},
            "where": {"type": "string", "description": "process, next_tuple, ack, ..., or 'worker N'"},
            "traceback": _STR,
        }
    ),
    "Operation": _obj(
        {"topologyOperation": _STR, "topologyId": _STR, "status": {"type": "string", "enum": ["success"]}}
    ),
    "TopologySummary": _obj({**_COMMON, "errors": _INT}),
    "Topology": _obj(
        {
            **_COMMON,
            "window": _STR,
            "windowHint": _STR,
            "windowSecs": {"type": "number", "description": "seconds the window really covers"},
            "topologyStats": _arr(_obj({**_PER_WINDOW, **_SPOUT_WINDOW})),
            "spouts": _arr(
                _obj(
                    {
                        "spoutId": _STR,
                        "encodedSpoutId": _STR,
                        "executors": _INT,
                        "tasks": _INT,
                        **_ERROR_FIELDS,
                        **_SPOUT_WINDOW,
                    }
                )
            ),
            "bolts": _arr(
                _obj(
                    {
                        "boltId": _STR,
                        "encodedBoltId": _STR,
                        "executors": _INT,
                        "tasks": _INT,
                        **_ERROR_FIELDS,
                        **_BOLT_WINDOW,
                    }
                )
            ),
            "configuration": {"type": "object", "description": "the run's config (the UI token left out)"},
            "droppedMalformed": _INT,
            "refusedConnections": _INT,
            "errorCount": _INT,
            "stopReason": {"type": "string", "nullable": True},
            "message": _STR,
            "drainTimedOut": _BOOL,
            "inFlight": {"type": "object"},
            "round": _INT,
            "sampled": {"type": "number", "description": "run uptime when the counters were complete"},
        }
    ),
    "Component": _obj(
        {
            "id": _STR,
            "name": _STR,
            "topologyId": _STR,
            "componentType": {"type": "string", "enum": ["spout", "bolt"]},
            "executors": _INT,
            "tasks": _INT,
            "window": _STR,
            "windowHint": _STR,
            "windowSecs": _NUM,
            "spoutSummary": _arr(_obj({**_PER_WINDOW, **_SPOUT_WINDOW})),
            "boltStats": _arr(_obj({**_PER_WINDOW, **_BOLT_WINDOW})),
            "executorStats": _arr(
                _obj(
                    {
                        "id": {"type": "string", "description": "[T-T]"},
                        "task": _INT,
                        "worker": _INT,
                        "host": _STR,
                        "port": {
                            "type": "integer",
                            "nullable": True,
                            "description": "null: Squall names workers by index",
                        },
                        "pid": {"type": "integer", "nullable": True},
                        "uptime": _STR,
                        "uptimeSeconds": _INT,
                        "stale": _BOOL,
                        "pending": _INT,
                        **_BOLT_WINDOW,
                        "completeLatency": _NUM,
                    }
                )
            ),
            "outputStats": _arr(
                _obj({"stream": _STR, "emitted": _INT, "transferred": {"type": "integer", "nullable": True}})
            ),
            "inputStats": _arr(_obj({"component": _STR, "stream": _STR, "grouping": _STR})),
            "componentErrors": _arr(_ref("ComponentError")),
            "errorCount": _INT,
        },
        required=False,
    ),
}


def document() -> dict[str, Any]:
    """The OpenAPI 3.0 document of every route the app serves."""
    t = "/api/v1/topology/{id}"
    tc = t + "/component/{component}"
    viz_node = _obj(
        {
            ":type": {"type": "string", "enum": ["spout", "bolt"]},
            ":capacity": _NUM,
            ":latency": {"type": "number", "description": "ms: complete (spouts) or execute (bolts) latency"},
            ":transferred": _INT,
            ":emitted": _INT,
            ":executed": _INT,
            ":acked": _INT,
            ":failed": _INT,
            ":errors": _INT,
            ":tasks": _INT,
            ":rate": {"type": "number", "description": "tuples emitted per second over the last stats round"},
            ":executedRate": _NUM,
            ":inputs": _arr(
                _obj(
                    {
                        ":component": _STR,
                        ":stream": _STR,
                        ":sani-stream": _STR,
                        ":grouping": {"type": "string", "description": "shuffle, fields(word), ..."},
                        ":rate": {"type": "number", "description": "tuples per second on this stream (last round)"},
                    }
                )
            ),
        }
    )
    paths: dict[str, Any] = {
        "/api/v1/cluster/summary": _get(
            "The cluster: this machine, its worker slots, one topology",
            _obj(
                {
                    "stormVersion": _STR,
                    "supervisors": _INT,
                    "slotsTotal": _INT,
                    "slotsUsed": _INT,
                    "slotsFree": _INT,
                    "executorsTotal": _INT,
                    "tasksTotal": _INT,
                    "topologies": _INT,
                    "nimbusUptime": _STR,
                    "nimbusUptimeSeconds": _INT,
                }
            ),
        ),
        "/api/v1/supervisor/summary": _get(
            "The supervisors (this machine)",
            _obj(
                {
                    "supervisors": _arr(
                        _obj(
                            {
                                "id": _STR,
                                "host": _STR,
                                "uptime": _STR,
                                "uptimeSeconds": _INT,
                                "slotsTotal": _INT,
                                "slotsUsed": _INT,
                                "totalMem": {
                                    "type": "number",
                                    "nullable": True,
                                    "description": "MB (null: another machine, a Ray node)",
                                },
                                "usedMem": {"type": "number", "description": "MB: the workers' RSS"},
                                "totalCpu": {"type": "integer", "nullable": True},
                                "version": _STR,
                            }
                        )
                    )
                }
            ),
        ),
        "/api/v1/nimbus/summary": _get(
            "The nimbus (this run's coordinator)",
            _obj(
                {
                    "nimbuses": _arr(
                        _obj(
                            {
                                "host": _STR,
                                "port": {"type": "integer", "nullable": True},
                                "status": _STR,
                                "version": _STR,
                                "nimbusUpTime": _STR,
                                "nimbusUpTimeSeconds": _INT,
                            }
                        )
                    )
                }
            ),
        ),
        "/api/v1/topology/summary": _get(
            "The topologies (the one this process runs)", _obj({"topologies": _arr(_ref("TopologySummary"))})
        ),
        t: _get("A topology: spouts, bolts, windows, configuration", _ref("Topology"), [_ID, _WINDOW]),
        tc: _get(
            "A component: per window and per task (executor), streams, errors",
            _ref("Component"),
            [_ID, _COMPONENT, _WINDOW],
        ),
        t + "/visualization": _get(
            "The topology graph (Storm's format): per component its stats and inputs",
            {"type": "object", "additionalProperties": viz_node},
            [_ID, _WINDOW],
        ),
        t + "/workers": _get(
            "Squall: the worker processes",
            _obj(
                {
                    "workers": _arr(
                        _obj(
                            {
                                "index": _INT,
                                "pid": {"type": "integer", "nullable": True},
                                "host": _STR,
                                "uptime": {"type": "string", "nullable": True},
                                "uptimeSeconds": {"type": "integer", "nullable": True},
                                "rss": {"type": "integer", "nullable": True, "description": "bytes"},
                                "peakRss": {"type": "integer", "nullable": True},
                                "tasks": _arr(_obj({"task": _INT, "component": _STR})),
                                "restarts": _INT,
                                "alive": _BOOL,
                                "stale": _BOOL,
                                "queued": _INT,
                                "silentSecs": _NUM,
                                "malformed": _INT,
                                "refused": _INT,
                            }
                        )
                    )
                }
            ),
            [_ID],
        ),
        t + "/errors": _get(
            "Squall: the recent errors, newest last",
            _obj({"errors": _arr(_ref("ComponentError")), "errorCount": _INT}),
            [_ID],
        ),
        t + "/timeseries": _get(
            "Squall: rates per component between consecutive stats rounds, last ~10 minutes",
            _obj(
                {
                    "interval": {"type": "number", "description": "average seconds between points"},
                    "components": _arr(_STR),
                    "points": _arr(
                        {
                            "type": "object",
                            "properties": {"time": {"type": "number", "description": "run uptime, seconds"}},
                            "additionalProperties": _obj(
                                {"emitted_rate": _NUM, "executed_rate": _NUM, "acked_rate": _NUM, "failed_rate": _NUM}
                            ),
                        }
                    ),
                }
            ),
            [_ID, {"name": "component", "in": "query", "required": False, "schema": _STR}],
        ),
        t + "/logs": _get(
            "Squall: the workers' last log lines (stdout and stderr)",
            _obj(
                {
                    "lines": _arr(_obj({"seq": _INT, "worker": _INT, "time": _NUM, "line": _STR})),
                    "next": {"type": "integer", "description": "pass as after= to get newer lines"},
                    "available": _BOOL,
                }
            ),
            [
                _ID,
                {"name": "worker", "in": "query", "required": False, "schema": _INT},
                {"name": "after", "in": "query", "required": False, "schema": _INT},
                {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "default": 1000}},
            ],
        ),
        tc + "/sample": _get(
            "Squall: tuples sampled from a component's emits (after debug/enable)",
            _obj(
                {
                    "samples": _arr(
                        _obj({"seq": _INT, "time": _NUM, "task": _INT, "stream": _STR, "values": _arr({})})
                    ),
                    "next": _INT,
                    "available": _BOOL,
                }
            ),
            [_ID, _COMPONENT, {"name": "after", "in": "query", "required": False, "schema": _INT}],
        ),
        t + "/activate": _post("Activate the spouts", _ref("Operation"), [_ID]),
        t + "/deactivate": _post("Deactivate the spouts (bolts go on)", _ref("Operation"), [_ID]),
        t + "/kill/{wait}": _post(
            "Kill: deactivate now, stop (drain) after wait seconds",
            _ref("Operation"),
            [_ID, {"name": "wait", "in": "path", "required": True, "schema": _NUM}],
        ),
        t + "/rebalance/{wait}": {
            "post": {
                **_post(
                    "Rebalance (a topology on a Ray cluster): deactivate now, after wait seconds drain and stop the "
                    "workers, run numWorkers workers with the same tasks",
                    _ref("Operation"),
                    [_ID, {"name": "wait", "in": "path", "required": True, "schema": _NUM}],
                )["post"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _obj(
                                {"rebalanceOptions": _obj({"numWorkers": {"type": "integer", "minimum": 1}})}
                            )
                        }
                    },
                },
            }
        },
        tc + "/debug/enable/{secs}": _post(
            "Sample the component's emitted tuples for secs seconds (Storm's debug, with seconds for the percentage)",
            _ref("Operation"),
            [
                _ID,
                _COMPONENT,
                {"name": "secs", "in": "path", "required": True, "schema": _NUM},
                {"name": "stream", "in": "query", "required": False, "schema": _STR},
            ],
        ),
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}},
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (text format): per task counters, latencies; per worker RSS, restarts",
                "responses": {"200": {"description": "text/plain; version=0.0.4", "content": {"text/plain": {}}}},
            }
        },
        "/": {
            "get": {
                "summary": "The web UI",
                "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
            }
        },
        "/static/{path}": {
            "get": {
                "summary": "The page's assets",
                "parameters": [{"name": "path", "in": "path", "required": True, "schema": _STR}],
                "responses": {"200": {"description": "a file"}, "404": {"description": "no such file"}},
            }
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Squall REST API",
            "version": VERSION,
            "description": (
                "Storm UI's REST API (paths and field names) for one running Squall topology, plus Squall's own "
                "(workers, errors, timeseries, logs, sample). GETs need no token; POSTs need the run's token "
                "(printed at start, in the registry file)."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "header": {"type": "apiKey", "in": "header", "name": "X-Squall-Token"},
            },
        },
    }
