"""RiffgenPipeline on the debug model (random weights, real classes, loaded from disk)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from riffgen.diffusion import PromptInput, RiffgenOutput, RiffgenPipeline
from riffgen.diffusion.schedulers import scheduler_names
from riffgen.diffusion.types import to_jsonable
from riffgen.errors import RiffgenError

W = 128  # px: 1.27 s clips keep the tests fast
STEPS = 4
FAST = {"num_inference_steps": STEPS}


@pytest.fixture(scope="module")
def clip(debug_pipeline) -> RiffgenOutput:
    return debug_pipeline.text_to_audio("lofi beat", seed=7, width=W, **FAST)


def px(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def test_text_to_audio_shapes_and_parameters(debug_pipeline, clip):
    params = debug_pipeline.spectrogram_params
    assert clip.image.size == (W, params.num_frequencies)
    assert clip.audio.dtype == np.float32 and clip.audio.shape[0] == 1
    assert clip.audio.shape[1] == params.num_samples(W)
    assert clip.sample_rate == params.sample_rate
    assert np.isfinite(clip.audio).all() and np.abs(clip.audio).max() > 0.1
    p = clip.parameters
    assert (p["prompt"], p["seed"], p["num_inference_steps"], p["width"]) == ("lofi beat", 7, 4, W)
    assert p["scheduler"] == "pndm" and p["mode"] == "text_to_audio"
    json.dumps(to_jsonable(p))  # JSON-serialisable


def test_same_seed_same_audio(debug_pipeline, clip):
    again = debug_pipeline.text_to_audio("lofi beat", seed=7, width=W, **FAST)
    assert np.array_equal(px(again.image), px(clip.image))
    assert np.array_equal(again.audio, clip.audio)


def test_different_seed_differs(debug_pipeline, clip):
    other = debug_pipeline.text_to_audio("lofi beat", seed=8, width=W, **FAST)
    assert not np.array_equal(px(other.image), px(clip.image))


def test_negative_prompt_changes_output(debug_pipeline, clip):
    neg = debug_pipeline.text_to_audio(
        "lofi beat", negative_prompt="vocals", seed=7, width=W, **FAST
    )
    assert not np.array_equal(px(neg.image), px(clip.image))
    assert neg.parameters["negative_prompt"] == "vocals"


def test_negative_prompt_in_img2img(debug_pipeline, clip):
    kw = dict(init_image=clip.image, denoising=0.8, seed=1, **FAST)
    a = debug_pipeline.audio_to_audio("rock", **kw)
    b = debug_pipeline.audio_to_audio("rock", negative_prompt="noise", **kw)
    assert not np.array_equal(px(a.image), px(b.image))


def test_batch_of_seeds_matches_single_runs(debug_pipeline, clip):
    outs = debug_pipeline.text_to_audio_batch("lofi beat", seeds=[7, 8], width=W, **FAST)
    assert [o.parameters["seed"] for o in outs] == [7, 8]
    diff = np.abs(px(outs[0].image).astype(int) - px(clip.image).astype(int))
    assert diff.max() <= 2  # batched kernels may round differently
    assert not np.array_equal(px(outs[0].image), px(outs[1].image))


def test_duration_sets_width_and_length(debug_pipeline):
    out = debug_pipeline.text_to_audio("x", duration_s=1.0, **FAST)
    assert out.image.width % 8 == 0 and out.image.width >= 101
    assert out.audio.shape[1] == out.sample_rate  # cut to exactly 1 s
    wide = debug_pipeline.text_to_audio("x", width=520, num_inference_steps=1)
    assert wide.image.width == 520


def test_long_and_weighted_prompts(debug_pipeline):
    long = ", ".join(["(warm:1.3) analog synth pad", "[distant] vinyl crackle"] * 12)
    out = debug_pipeline.text_to_audio(long, negative_prompt="harsh " * 90, width=W, **FAST)
    assert np.isfinite(out.audio).all()
    out2 = debug_pipeline.audio_to_audio(long, init_image=out.image, denoising=0.5, **FAST)
    assert out2.image.size == out.image.size


@pytest.mark.parametrize("name", scheduler_names())
def test_every_scheduler_runs(debug_pipeline, clip, name):
    a = debug_pipeline.text_to_audio("x", seed=3, width=64, num_inference_steps=3, scheduler=name)
    assert a.parameters["scheduler"] == name
    assert np.isfinite(a.audio).all()
    b = debug_pipeline.audio_to_audio(
        "x", init_image=clip.image, denoising=0.7, num_inference_steps=4, scheduler=name
    )
    assert b.image.size == clip.image.size and b.parameters["scheduler"] == name


def test_stochastic_scheduler_is_reproducible(debug_pipeline):
    kw = dict(seed=3, width=64, num_inference_steps=3, scheduler="euler-a")
    a, b = debug_pipeline.text_to_audio("x", **kw), debug_pipeline.text_to_audio("x", **kw)
    assert np.array_equal(px(a.image), px(b.image))  # its step noise comes from the seed too


def test_denoising_zero_returns_input(debug_pipeline, clip):
    out = debug_pipeline.audio_to_audio("anything", init_image=clip.image, denoising=0.0)
    assert np.array_equal(px(out.image), px(clip.image))
    assert out.parameters["denoising"] == 0.0


def test_audio_input(debug_pipeline, clip):
    out = debug_pipeline.audio_to_audio(
        "x", init_audio=clip.audio, sample_rate=clip.sample_rate, denoising=0.5, **FAST
    )
    assert out.image.height == debug_pipeline.height
    assert out.image.width % 8 == 0 and abs(out.image.width - W) <= 8
    with pytest.raises(RiffgenError, match="empty"):
        debug_pipeline.audio_to_audio("x", init_audio=np.zeros((1, 0)), sample_rate=44100)


def test_inpaint_time_range_keeps_the_rest(debug_pipeline, clip):
    out = debug_pipeline.inpaint("drums", init_image=clip.image, start_s=0.4, end_s=0.8, **FAST)
    a, b = px(clip.image), px(out.image)
    changed = np.where((a != b).any(axis=(0, 2)))[0]
    assert changed.size > 0
    assert changed.min() >= 40 and changed.max() < 80  # columns are 10 ms
    assert out.parameters["start_s"] == 0.4


def test_inpaint_frequency_band_keeps_the_rest(debug_pipeline, clip):
    out = debug_pipeline.inpaint("hats", init_image=clip.image, min_hz=4000, max_hz=10000, **FAST)
    a, b = px(clip.image), px(out.image)
    changed_rows = np.where((a != b).any(axis=(1, 2)))[0]
    assert changed_rows.size > 0
    assert changed_rows.max() < debug_pipeline.height // 2  # high band = top half of the image


def test_inpaint_mask_image(debug_pipeline, clip):
    mask = np.zeros((debug_pipeline.height, W), np.uint8)
    mask[:, 64:] = 255  # white = repaint
    out = debug_pipeline.inpaint(
        "x", init_image=clip.image, mask_image=Image.fromarray(mask), seed=2, **FAST
    )
    a, b = px(clip.image), px(out.image)
    assert np.array_equal(a[:, :64], b[:, :64])
    assert not np.array_equal(a[:, 64:], b[:, 64:])


def test_inpaint_needs_one_kind_of_mask(debug_pipeline, clip):
    with pytest.raises(RiffgenError, match="mask"):
        debug_pipeline.inpaint("x", init_image=clip.image)
    with pytest.raises(RiffgenError, match="end"):
        debug_pipeline.inpaint("x", init_image=clip.image, start_s=1.0, end_s=0.5)


def test_interpolation_endpoints(debug_pipeline, clip):
    a = PromptInput("piano", seed=1, negative_prompt="noise", denoising=0.6, guidance=5.0)
    b = PromptInput("organ", seed=9, denoising=0.8, guidance=8.0)
    kw = dict(init_image=clip.image, **FAST)
    at0 = debug_pipeline.interpolate(a, b, 0.0, **kw)
    at1 = debug_pipeline.interpolate(a, b, 1.0, **kw)
    mid = debug_pipeline.interpolate(a, b, 0.5, **kw)
    ref_a = debug_pipeline.audio_to_audio(
        "piano", init_image=clip.image, seed=1, negative_prompt="noise", denoising=0.6,
        guidance=5.0, **FAST,
    )  # fmt: skip
    ref_b = debug_pipeline.audio_to_audio(
        "organ", init_image=clip.image, seed=9, denoising=0.8, guidance=8.0, **FAST
    )
    assert np.array_equal(px(at0.image), px(ref_a.image))
    assert np.array_equal(px(at1.image), px(ref_b.image))
    assert not np.array_equal(px(mid.image), px(at0.image))
    assert mid.parameters["alpha"] == 0.5
    assert mid.parameters["start"]["prompt"] == "piano"


def test_interpolation_with_mask_keeps_black_region(debug_pipeline, clip):
    mask = np.full((debug_pipeline.height, W), 255, np.uint8)
    mask[:, :32] = 0
    out = debug_pipeline.interpolate(
        PromptInput("a", 1), PromptInput("b", 2), 0.3, init_image=clip.image,
        mask_image=Image.fromarray(mask), **FAST,
    )  # fmt: skip
    assert np.array_equal(px(out.image)[:, :32], px(clip.image)[:, :32])


def test_callback_reports_steps_and_can_abort(debug_pipeline):
    seen = []
    debug_pipeline.text_to_audio(
        "x", width=64, num_inference_steps=3, callback=lambda i, n: seen.append((i, n))
    )
    assert seen[-1][0] == seen[-1][1] and [s for s, _ in seen] == list(range(1, len(seen) + 1))

    class Stop(Exception):
        pass

    def stop(i, n):
        raise Stop

    with pytest.raises(Stop):
        debug_pipeline.text_to_audio("x", width=64, num_inference_steps=3, callback=stop)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"width": 100}, "multiple of 8"),
        ({"width": 0}, "multiple of 8"),
        ({"num_inference_steps": 0}, "steps"),
        ({"seed": -1}, "seed"),
        ({"guidance": float("nan")}, "guidance"),
        ({"scheduler": "magic"}, "unknown scheduler"),
        ({"duration_s": 0}, "duration"),
    ],
)
def test_bad_text_to_audio_inputs(debug_pipeline, kwargs, match):
    with pytest.raises(RiffgenError, match=match):
        debug_pipeline.text_to_audio("x", **kwargs)


@pytest.mark.parametrize(("value", "match"), [(1.5, "denoising"), (-0.1, "denoising")])
def test_bad_denoising(debug_pipeline, clip, value, match):
    with pytest.raises(RiffgenError, match=match):
        debug_pipeline.audio_to_audio("x", init_image=clip.image, denoising=value)


def test_bad_alpha(debug_pipeline, clip):
    with pytest.raises(RiffgenError, match="alpha"):
        debug_pipeline.interpolate(PromptInput("a"), PromptInput("b"), 1.2, init_image=clip.image)


def test_model_spectrogram_params_loaded(debug_pipeline):
    assert debug_pipeline.spectrogram_params.num_frequencies == 64
    assert debug_pipeline.height == 64
    assert debug_pipeline.vae_scale_factor == 8
    assert debug_pipeline.device == torch.device("cpu") and debug_pipeline.dtype == torch.float32
    assert debug_pipeline.scheduler.config.steps_offset == 1
    assert isinstance(debug_pipeline, RiffgenPipeline)
