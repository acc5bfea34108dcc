"""Every call's work is bounded: impossible or unbounded values are one clear RiffgenError,
raised before any tensor is made."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from riffgen.diffusion.types import MAX_CLIP_SECONDS, MAX_PROMPT_CHARS, MAX_STEPS, PromptInput
from riffgen.errors import RiffgenError


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_inference_steps": 1_000_000_000}, f"1 to {MAX_STEPS}"),
        ({"num_inference_steps": 0}, "steps"),
        ({"width": 800_000_000}, "per generated clip"),
        ({"duration_s": math.inf}, "at most"),
        ({"duration_s": 1e9}, "at most"),
        ({"duration_s": float("nan")}, "duration"),
        ({"guidance": 1e9}, "guidance"),
        ({"guidance": float("nan")}, "guidance"),
    ],
)
def test_text_to_audio_refuses_unbounded_work(debug_pipeline, kwargs, message):
    with pytest.raises(RiffgenError, match=message):
        debug_pipeline.text_to_audio("x", **kwargs)


def test_prompt_length_is_bounded(debug_pipeline):
    with pytest.raises(RiffgenError, match=str(MAX_PROMPT_CHARS)):
        debug_pipeline.text_to_audio("a" * (MAX_PROMPT_CHARS + 1), num_inference_steps=1)


def test_width_limit_is_sixty_seconds(debug_pipeline):
    params = debug_pipeline.spectrogram_params
    limit = debug_pipeline.max_width
    assert limit % debug_pipeline.vae_scale_factor == 0
    assert params.num_samples(limit) / params.sample_rate <= MAX_CLIP_SECONDS


def test_wide_init_image_is_refused_before_work(debug_pipeline):
    wide = Image.new("RGB", (debug_pipeline.max_width + 64, debug_pipeline.height))
    start = PromptInput("a")
    with pytest.raises(RiffgenError, match="per clip"):
        debug_pipeline.interpolate(start, start, 0.5, init_image=wide, num_inference_steps=1)


@settings(max_examples=40, deadline=None)
@given(
    steps=st.one_of(st.integers(-10, 10**12), st.floats(allow_nan=True)),
    guidance=st.floats(allow_nan=True, allow_infinity=True),
    duration=st.floats(allow_nan=True, allow_infinity=True),
)
def test_numeric_inputs_work_or_raise_riffgen_error(debug_pipeline, steps, guidance, duration):
    # Only the checks run: a valid combination is stopped by the tiny callback below.
    def stop(step, total):
        raise KeyboardInterrupt

    with contextlib.suppress(RiffgenError, KeyboardInterrupt):
        debug_pipeline.text_to_audio(
            "x", num_inference_steps=steps, guidance=guidance, duration_s=duration, callback=stop
        )
