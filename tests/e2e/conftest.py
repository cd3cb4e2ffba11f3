import pytest


@pytest.fixture(params=[1, 2], ids=["in-process", "2-workers"])
def workers(request):
    """Run each end-to-end test in this process and on 2 real worker processes."""
    return request.param
