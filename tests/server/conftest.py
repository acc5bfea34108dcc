"""Server test fixtures: apps around the fake pipeline (fast, controllable) or the debug model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _server_helpers import SpyPipeline, make_client
from fastapi.testclient import TestClient


@pytest.fixture
def spy() -> SpyPipeline:
    return SpyPipeline()


@pytest.fixture
def client(spy) -> Iterator[TestClient]:
    with make_client(spy) as c:
        yield c


@pytest.fixture(scope="session")
def debug_client(debug_pipeline) -> Iterator[TestClient]:
    with make_client(debug_pipeline) as c:
        yield c
