"""Property: every numeric input of the API either works (200) or gets a 4xx, never a 5xx.

Hypothesis draws numbers at and past every bound: huge and negative integers, floats down to
subnormals, NaN and infinities (JSON ``NaN``/``Infinity``, form text ``nan``/``inf``), booleans,
numeric strings. The fake pipeline keeps each request in the millisecond range.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from _server_helpers import compat_body, make_client, png_bytes, wav_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riffgen.audio import SpectrogramParams
from riffgen.diffusion.fake import FakePipeline

SMALL_PARAMS = SpectrogramParams(num_frequencies=64, num_griffin_lim_iters=8)
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure here is reproducible
    suppress_health_check=[HealthCheck.too_slow],
)

# Numbers as JSON can carry them (Python's json writes NaN/Infinity, which the server parses).
json_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-2, max_value=300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-2.0, max_value=2.0),
    st.sampled_from([0, 1, -0.0, 5e-324, 1e308, 2**32 - 1, 2**32, 2**63, True, False]),
    st.none(),
    st.text(alphabet="0123456789.e-+", max_size=8),
)
# Numbers as a form field carries them: text.
form_numbers = st.one_of(
    json_numbers.map(lambda v: "" if v is None else str(v).lower()),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "0x10", " 1", "1_000", "٣", ""]),
)


@pytest.fixture(scope="module")
def client():
    with make_client(FakePipeline(params=SMALL_PARAMS), max_width=512, max_audio_s=5.0) as c:
        yield c


def assert_works_or_4xx(response) -> None:
    assert response.status_code == 200 or 400 <= response.status_code < 500, (
        response.status_code,
        response.text[:300],
    )


def post_json(client, path: str, body: dict[str, Any]):
    return client.post(
        path, content=json.dumps(body, allow_nan=True), headers={"content-type": "application/json"}
    )


@PROPERTY_SETTINGS
@given(
    alpha=json_numbers,
    steps=json_numbers,
    seed=json_numbers,
    denoising=json_numbers,
    guidance=json_numbers,
)
def test_run_inference_numbers(client, alpha, steps, seed, denoising, guidance):
    body = compat_body(
        alpha=alpha,
        num_inference_steps=steps,
        start={"prompt": "a", "seed": seed, "denoising": denoising, "guidance": guidance},
    )
    r = post_json(client, "/run_inference/", body)
    assert_works_or_4xx(r)
    if r.status_code == 200:
        assert isinstance(alpha, int | float) and 0 <= alpha <= 1 + 1e-3 and not math.isnan(alpha)


@PROPERTY_SETTINGS
@given(width=json_numbers, steps=json_numbers, seed=json_numbers, guidance=json_numbers)
def test_text_to_audio_numbers(client, width, steps, seed, guidance):
    body = {
        "prompt": "bass",
        "width": width,
        "num_inference_steps": steps,
        "seed": seed,
        "guidance": guidance,
    }
    assert_works_or_4xx(post_json(client, "/api/v1/text_to_audio", body))


@PROPERTY_SETTINGS
@given(alpha=json_numbers, bpm=json_numbers, end_seed=json_numbers)
def test_interpolate_numbers(client, alpha, bpm, end_seed):
    body = {
        "start": {"prompt": "a"},
        "end": {"prompt": "b", "seed": end_seed},
        "alpha": alpha,
        "bpm": bpm,
        "num_inference_steps": 1,
    }
    assert_works_or_4xx(post_json(client, "/api/v1/interpolate", body))


WAV = wav_bytes(1.0, sr=8000)


@PROPERTY_SETTINGS
@given(start_s=form_numbers, duration_s=form_numbers)
def test_audio_to_image_numbers(client, start_s, duration_s):
    data = {"start_s": start_s, "duration_s": duration_s}
    r = client.post("/api/v1/audio_to_image", files={"file": ("a.wav", WAV)}, data=data)
    assert_works_or_4xx(r)


@PROPERTY_SETTINGS
@given(denoising=form_numbers, seed=form_numbers, steps=form_numbers, guidance=form_numbers)
def test_audio_to_audio_numbers(client, denoising, seed, steps, guidance):
    data = {
        "prompt": "x",
        "denoising": denoising,
        "seed": seed,
        "num_inference_steps": steps,
        "guidance": guidance,
    }
    r = client.post("/api/v1/audio_to_audio", files={"file": ("a.wav", WAV)}, data=data)
    assert_works_or_4xx(r)


PNG = png_bytes(128, 64, 200)


@PROPERTY_SETTINGS
@given(start_s=form_numbers, end_s=form_numbers, min_hz=form_numbers, max_hz=form_numbers)
def test_inpaint_numbers(client, start_s, end_s, min_hz, max_hz):
    data = {
        "prompt": "x",
        "start_s": start_s,
        "end_s": end_s,
        "min_hz": min_hz,
        "max_hz": max_hz,
        "num_inference_steps": "1",
    }
    data = {k: v for k, v in data.items() if v != ""}
    r = client.post("/api/v1/inpaint", files={"image": ("c.png", PNG)}, data=data)
    assert_works_or_4xx(r)


@settings(PROPERTY_SETTINGS, max_examples=15)
@given(seed=form_numbers)
def test_image_to_audio_numbers(client, seed):
    # 16 columns: each accepted seed costs a Griffin-Lim decode.
    picture = png_bytes(16, 64, 200)
    r = client.post(
        "/api/v1/image_to_audio", files={"image": ("c.png", picture)}, data={"seed": seed}
    )
    assert_works_or_4xx(r)
