"""The real pipeline and the fake one both satisfy the Pipeline protocol, signature by signature."""

from __future__ import annotations

import inspect

import pytest

from riffgen.diffusion.fake import FakePipeline
from riffgen.diffusion.pipeline import RiffgenPipeline
from riffgen.diffusion.types import Pipeline

METHODS = ("text_to_audio", "audio_to_audio", "inpaint", "interpolate")


def _params(func) -> list[tuple[str, object, object]]:
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(func).parameters.values()
        if p.name != "self"
    ]


@pytest.mark.parametrize("impl", [RiffgenPipeline, FakePipeline])
@pytest.mark.parametrize("method", METHODS)
def test_signature_matches_protocol(impl, method):
    assert _params(getattr(impl, method)) == _params(getattr(Pipeline, method))


def test_fake_is_a_pipeline(debug_pipeline):
    assert isinstance(FakePipeline(), Pipeline)
    assert isinstance(debug_pipeline, Pipeline)
