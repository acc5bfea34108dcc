"""A local Ray cluster for the batch tests: 2 CPUs, started once, stopped with nothing left."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="package")
def ray_cluster():
    """``ray.init(num_cpus=2)``; at the end ``ray.shutdown()``, and a check that no process
    of that cluster is still running."""
    import ray  # a dev dependency: missing, the tests fail rather than skip
    import ray.cloudpickle

    from . import _helpers

    # The test pipelines are shipped to the actors by value: workers need not import tests/.
    ray.cloudpickle.register_pickle_by_value(_helpers)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    cluster = _helpers.started_under(os.getpid())
    ray.shutdown()
    left = _helpers.still_running(cluster)
    assert not left, f"Ray processes left running: {left}"
