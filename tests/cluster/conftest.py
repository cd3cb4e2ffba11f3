"""The session's Ray cluster (``cluster_helpers.RayCluster``) and the ``cluster`` marker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cluster_helpers import RayCluster

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    """Every test in tests/cluster is marked ``cluster`` (select or deselect them with -m)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def ray_cluster():
    c = RayCluster()
    started = _ray_processes()
    assert started, "cluster_utils started no raylet or gcs_server below this process"
    yield c
    c.shutdown()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and [p for p in started if p.is_running() and p.status() != "zombie"]:
        time.sleep(0.5)
    left = [f"{p.name()} {p.pid}" for p in started if p.is_running() and p.status() != "zombie"]
    assert not left, f"Ray processes left after the cluster's shutdown: {left}"


def _ray_processes() -> list:
    """The raylets and GCS server this process started (cluster_utils starts them as its descendants)."""
    import psutil

    return [p for p in psutil.Process().children(recursive=True) if p.name() in ("raylet", "gcs_server")]
