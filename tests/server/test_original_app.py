"""The original Riffusion web app (riffusion-app) as a client of ``/run_inference/``.

``riffusion_app_request`` rebuilds the request of riffusion-app's ``components/ModelInference.tsx``
(``runInference``) and ``alpha_walk`` the alpha stepping of its ``pages/index.tsx``; the requests
then travel the two ways the app sends them: from the browser (``fetch`` with a string body and no
headers, so Content-Type text/plain) and through its Node proxy ``pages/api/server.js`` (JSON to
``RIFFUSION_FLASK_URL``, ``http://127.0.0.1:3013/run_inference/`` in its README, no Origin).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from _server_helpers import SpyPipeline, decode_data_url, make_client
from PIL import Image

from riffgen.audio import SpectrogramParams
from riffgen.server.seeds import MASK_NAMES, builtin_mask, default_registry

# What the original app ships: Settings.tsx's seed choices and riffusion-hobby's mask images.
ORIGINAL_SEEDS = ("og_beat", "agile", "marim", "motorway", "vibes")
ORIGINAL_MASKS = (
    "mask_beat_lines_80",
    "mask_gradient_dark",
    "mask_gradient_top_70",
    "mask_gradient_top_fifth_75",
    "mask_top_third_75",
    "mask_top_third_95",
)
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "riffusion_seed_images"
SMALL_PARAMS = SpectrogramParams(num_frequencies=64, num_griffin_lim_iters=8)


def riffusion_app_request(
    alpha: float,
    seed: int,
    transitioning: bool,
    prompts: list[str],
    *,
    num_inference_steps: int = 50,
    seed_image_id: str = "og_beat",
    mask_image_id: str | None = None,
    denoising: float = 0.75,
    guidance: float = 7.0,
) -> dict[str, Any]:
    """``inferenceInput`` as ModelInference.tsx builds it (no negative_prompt, end seed + 1
    while the prompt stays, the same seed during a transition)."""
    start_prompt, end_prompt = prompts[-3], prompts[-2]
    return {
        "alpha": alpha,
        "num_inference_steps": num_inference_steps,
        "seed_image_id": seed_image_id,
        "mask_image_id": mask_image_id,
        "start": {
            "prompt": start_prompt,
            "seed": seed,
            "denoising": denoising,
            "guidance": guidance,
        },
        "end": {
            "prompt": end_prompt if transitioning else start_prompt,
            "seed": seed if transitioning else seed + 1,
            "denoising": denoising,
            "guidance": guidance,
        },
    }


def mask_from_url(value: str | None) -> str | None:
    """ModelInference.tsx: ``?maskImageId=none`` becomes "", any other value is used as is."""
    if value is None:
        return None
    return "" if value == "none" else value


def alpha_walk(velocity: float, count: int, alpha: float = 0.25) -> list[float]:
    """index.tsx's newResultCallback: ``alpha + alphaVelocity``, minus 1 past ``1 + 1e-3``."""
    alphas = []
    for _ in range(count):
        alphas.append(alpha)
        alpha = alpha + velocity
        if alpha > 1 + 1e-3:
            alpha -= 1
    return alphas


def js_stringify(payload: dict[str, Any]) -> str:
    """``JSON.stringify``: integral numbers have no ".0" (guidance 7.0 is sent as 7)."""

    def js(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: js(v) for k, v in value.items()}
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    return json.dumps(js(payload), separators=(",", ":"))


def from_browser(client, payload: dict[str, Any]):
    """``fetch("/api/server", {method: "POST", body: JSON.stringify(payload), headers: {}})``."""
    headers = {"content-type": "text/plain;charset=UTF-8"}
    return client.post("/run_inference/", content=js_stringify(payload), headers=headers)


def from_proxy(client, payload: dict[str, Any], url: str = "/run_inference/"):
    """server.js forwards the browser's body to RIFFUSION_FLASK_URL as application/json."""
    headers = {"content-type": "application/json", "accept": "*/*", "sec-fetch-mode": "cors"}
    return client.post(url, content=js_stringify(payload), headers=headers)


def assert_playable(response) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"image", "audio", "duration_s"}
    assert body["image"].startswith("data:image/jpeg;base64,")
    assert body["audio"].startswith("data:audio/mpeg;base64,")
    audio, sr = sf.read(io.BytesIO(decode_data_url(body["audio"])))
    assert sr == 44100 and abs(len(audio) / sr - body["duration_s"]) < 0.1
    assert np.abs(audio).max() > 0.1
    assert Image.open(io.BytesIO(decode_data_url(body["image"]))).format == "JPEG"


@pytest.fixture(scope="module")
def app_client():
    spy = SpyPipeline(params=SMALL_PARAMS)
    with make_client(spy, registry=default_registry()) as client:
        yield client, spy


PROMPTS = ["", "", "", "church bells on sunday", "jazz piano", "techno"]


@pytest.mark.parametrize("seed_image_id", ORIGINAL_SEEDS)
def test_every_original_seed_image(app_client, seed_image_id):
    client, spy = app_client
    payload = riffusion_app_request(
        0.25, 3, False, PROMPTS[:5], num_inference_steps=2, seed_image_id=seed_image_id
    )
    assert_playable(from_browser(client, payload))
    assert spy.kwargs[-1]["init_image"].size == (512, 512)
    assert spy.kwargs[-1]["mask_image"] is None


@pytest.mark.parametrize("mask_image_id", [*ORIGINAL_MASKS, "none", None])
def test_every_original_mask_and_no_mask(app_client, mask_image_id):
    client, spy = app_client
    payload = riffusion_app_request(
        0.5,
        738973,
        False,
        PROMPTS[:5],
        num_inference_steps=2,
        mask_image_id=mask_from_url(mask_image_id),
    )
    assert_playable(from_proxy(client, payload))
    mask = spy.kwargs[-1]["mask_image"]
    if mask_image_id in (None, "none"):
        assert mask is None
    else:
        assert np.array_equal(np.asarray(mask), np.asarray(builtin_mask(mask_image_id)))


def test_a_session_of_the_original_app(app_client):
    """Same prompt, then a transition to the next one, with the app's alpha steps; through the
    proxy with and without the URL's trailing slash."""
    client, spy = app_client
    # An alphaVelocity of 0.05 (a URL parameter) sums to 1.0000000000000002 in floats.
    alphas = alpha_walk(0.05, 16)
    assert max(alphas) > 1.0
    for i, alpha in enumerate(alphas):
        payload = riffusion_app_request(
            alpha, 51209, i >= 12, PROMPTS, num_inference_steps=1, seed_image_id="marim"
        )
        url = "/run_inference/" if i % 2 else "/run_inference"
        assert_playable(from_proxy(client, payload, url))
        call = spy.kwargs[-1]
        assert call["alpha"] == min(alpha, 1.0)
        assert call["end"].seed == (51209 if i >= 12 else 51210)
        assert call["start"].prompt == "church bells on sunday"
        assert call["end"].prompt == ("jazz piano" if i >= 12 else "church bells on sunday")
        assert call["start"].negative_prompt is None


def test_body_without_content_type(app_client):
    client, _ = app_client
    payload = riffusion_app_request(1.0, 4205, True, PROMPTS, num_inference_steps=1)
    assert_playable(client.post("/run_inference", content=js_stringify(payload)))


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"seed_image_id": "../og_beat"}, "seed_image_id"),
        ({"seed_image_id": "og_beat.png"}, "seed_image_id"),
        ({"mask_image_id": "/etc/passwd"}, "mask_image_id"),
        ({"mask_image_id": "mask_nope"}, "mask_image_id"),
        ({"alpha": 1.0011}, "alpha"),
        ({"alpha": -1e-9}, "alpha"),
    ],
)
def test_strict_values_stay_strict(app_client, changes, field):
    client, _ = app_client
    payload = {**riffusion_app_request(0.25, 3, False, PROMPTS, num_inference_steps=1), **changes}
    r = from_browser(client, payload)
    assert r.status_code == 422, r.text
    assert any(field in e["loc"] for e in r.json()["detail"])


def test_original_mask_names_are_listed(app_client):
    client, _ = app_client
    masks = {s["name"] for s in client.get("/api/v1/seed_images").json() if s["is_mask"]}
    assert masks == set(ORIGINAL_MASKS) == set(MASK_NAMES)


@pytest.mark.parametrize("name", ORIGINAL_MASKS)
def test_builtin_masks_match_the_original_images(name):
    """The masks are generated, not copied; they stay within 2 grey levels (of 255) on average."""
    path = REFERENCE / f"{name}.png"
    if not path.exists():
        pytest.skip(f"reference images not beside the checkout ({REFERENCE})")
    original = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    ours = np.asarray(builtin_mask(name).convert("L"), dtype=np.float32)
    assert ours.shape == original.shape
    assert np.abs(ours - original).mean() < 2.0
