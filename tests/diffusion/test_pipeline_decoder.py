"""RiffgenPipeline's decoder: the argument, the attribute, per block, and what it records."""

from __future__ import annotations

import pytest

import riffgen.audio.vocoder as vocoder
import riffgen.diffusion.pipeline as pipeline_module
from riffgen.audio.decoders import DEFAULT_DECODER
from riffgen.diffusion.fake import FakePipeline
from riffgen.diffusion.pipeline import decoding
from riffgen.errors import RiffgenError

FAST = {"num_inference_steps": 2, "width": 32}


@pytest.fixture
def seen(monkeypatch):
    """The decoder of every image_to_audio call the pipeline makes."""
    calls: list[str | None] = []
    real = pipeline_module.image_to_audio

    def spy(*args, **kwargs):
        calls.append(kwargs.get("decoder"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "image_to_audio", spy)
    monkeypatch.setattr(vocoder, "_said", set())  # "once per process" starts afresh here
    return calls


def test_default_per_block_and_recorded(debug_pipeline, seen):
    pipe = debug_pipeline
    assert pipe.decoder == DEFAULT_DECODER
    out = pipe.text_to_audio("a", **FAST)
    assert out.parameters["decoder"] == DEFAULT_DECODER and seen == [DEFAULT_DECODER]
    with decoding(pipe, "original"):
        again = pipe.interpolate(
            *[pipeline_module.PromptInput("a", 1)] * 2, 0.0, init_image=out.image,
            num_inference_steps=2,
        )  # fmt: skip
    assert again.parameters["decoder"] == "original" and seen[-1] == "original"
    assert pipe.decoder == DEFAULT_DECODER  # restored after the block
    with pytest.raises(RiffgenError, match="unknown decoder"):
        pipe.decoder = "wavenet"
    with pytest.raises(RiffgenError, match="unknown decoder"), decoding(pipe, "wavenet"):
        pass


def test_vocoder_for_an_untrained_format_falls_back_once(debug_pipeline, seen, capsys):
    with decoding(debug_pipeline, "vocoder"):  # the debug model's 64-mel images
        outs = [debug_pipeline.text_to_audio("a", seed=s, **FAST) for s in (1, 2)]
    assert [o.parameters["decoder"] for o in outs] == ["griffin-lim"] * 2
    assert seen == ["griffin-lim"] * 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "64 mel bins" in err[0] and "Griffin-Lim" in err[0], err


def test_decoding_a_stand_in_leaves_it_as_it_was():
    fake = FakePipeline()
    with decoding(fake, "vocoder"):
        assert fake.decoder == "vocoder"
    assert not hasattr(fake, "decoder")
    with decoding(fake, None):
        assert not hasattr(fake, "decoder")
