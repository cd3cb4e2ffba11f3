"""What a run needs from the machine: the open-files check and resource errors in one sentence."""

import errno
import resource

import pytest
import zmq

from squall.errors import ResourceError, WorkerError
from squall.local import resources


def test_the_estimate_grows_with_the_workers():
    assert resources.fds_needed(1) == 13 + 1 + resources.SPARE_FDS  # the coordinator's is the larger
    assert resources.fds_needed(8) == 9 + 24 + resources.SPARE_FDS


def test_a_low_soft_limit_is_raised_up_to_the_hard_one():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 200:
        pytest.fail(f"this machine's hard open-files limit ({hard}) is too low for the test")
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, hard))
        resources.ensure_open_files(8)  # needs 35: enough
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 40
        resources.ensure_open_files(20)  # needs 71: raised
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 2 * resources.fds_needed(20)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_resource_errors_are_told_apart_and_described_with_a_hint():
    emfile = OSError(errno.EMFILE, "Too many open files")
    assert resources.is_resource_error(emfile)
    assert resources.is_resource_error(zmq.ZMQError(errno.EMFILE))
    assert resources.is_resource_error(MemoryError())
    assert not resources.is_resource_error(OSError(errno.ENOENT, "No such file or directory"))
    assert not resources.is_resource_error(ValueError("nope"))
    text = resources.describe(emfile, "starting worker 3", 8)
    assert text.startswith("out of resources while starting worker 3 (Too many open files): the limit is ")
    assert "8 worker(s) need about 35 per process: raise it or run fewer workers (--workers)" in text
    assert "run fewer workers" in resources.describe(OSError(errno.EAGAIN, "Resource temporarily unavailable"), "x")
    assert "out of memory" in resources.describe(MemoryError(), "x")
    assert issubclass(ResourceError, WorkerError)  # a run that catches WorkerError catches it too
