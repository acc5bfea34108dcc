from __future__ import annotations

import pytest

from riffgen.endless.seeds import get_seed_image
from riffgen.endless.testing import FakeClipMaker


@pytest.fixture
def fake_maker() -> FakeClipMaker:
    return FakeClipMaker()


@pytest.fixture(scope="session")
def beat_seed():
    return get_seed_image("beat_120")
