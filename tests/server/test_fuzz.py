"""Property-based fuzzing of every operation in the OpenAPI schema (schemathesis, ASGI, fake model).

Schemathesis derives valid and invalid requests from ``/openapi.json`` (JSON bodies, multipart
forms, query strings, path names) and sends them straight to the ASGI app. A hook swaps real WAV,
FLAC and PNG files of random sizes into the upload fields (random bytes never get past the
decoders), and the upload operations get a second, valid-only pass. The property: the server
never answers 5xx. Bad input must be a 4xx with a message, never a crash; 503/504 are not
expected either: requests run one at a time and the fake pipeline is instant.
Examples are derandomized (the same on every run); about 1,500 requests, ~40 s on 2 cores.
"""

from __future__ import annotations

import copy

import pytest
import schemathesis
from _server_helpers import png_bytes, small_seed_registry, wav_bytes
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from riffgen.audio import SpectrogramParams
from riffgen.diffusion.fake import FakePipeline
from riffgen.server import ModelWorker, ServerConfig, WorkerPool, create_app

# 64 frequency bins and 8 Griffin-Lim iterations keep every decode in the millisecond range, so
# the examples go to the request handling rather than to the DSP (which has its own tests).
SMALL_PARAMS = SpectrogramParams(num_frequencies=64, num_griffin_lim_iters=8)
EXAMPLES_PER_OPERATION = 50


POOL = WorkerPool([ModelWorker(FakePipeline(params=SMALL_PARAMS), max_queue=4)])
# Small limits so that generated sizes reach them (and their error paths) quickly.
APP = create_app(
    POOL,
    small_seed_registry(),
    ServerConfig(
        max_queue=4,
        max_width=512,
        max_audio_s=10.0,
        model_name="fake",
        allowed_hosts=("testserver",),  # the Host of schemathesis' ASGI client
    ),
    serve_static=False,
)


async def app_without_lifespan(scope, receive, send):
    """The app, minus its lifespan: schemathesis ends the lifespan after every operation's test,
    and the app's shutdown closes the worker pool for good (as it should in a real server)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await APP(scope, receive, send)


@pytest.fixture(scope="module", autouse=True)
def _close_pool():
    yield
    POOL.close()


def load_schema():
    """The app's OpenAPI document, with optional uploads (``UploadFile | None``) spelled as plain
    binary strings: schemathesis only sends a form field as a file part (with a filename) when its
    schema is binary itself, not an ``anyOf`` of binary and null (null cannot be sent in a form)."""
    raw = copy.deepcopy(APP.openapi())
    for body in raw["components"]["schemas"].values():
        for name, prop in body.get("properties", {}).items():
            binary = [s for s in prop.get("anyOf", []) if s.get("contentMediaType")]
            if binary:
                body["properties"][name] = {**binary[0], "description": prop.get("description", "")}
    loaded = schemathesis.openapi.from_dict(raw)
    loaded.app = app_without_lifespan
    return loaded


schema = load_schema()
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
)


UPLOAD_FIELDS = ("file", "image", "mask")
UPLOAD_PATHS = {
    f"/api/v1/{name}" for name in ("audio_to_audio", "audio_to_image", "image_to_audio", "inpaint")
}


def wav_upload() -> st.SearchStrategy[bytes]:
    """A real audio file: up to 12 s (the server allows 10), a few rates, mono or stereo."""
    return st.builds(
        wav_bytes,
        seconds=st.one_of(st.floats(0.5, 12.0), st.floats(0.0, 0.5)),
        sr=st.sampled_from([8000, 22050, 44100, 48000]),
        channels=st.integers(1, 2),
        fmt=st.sampled_from(["WAV", "FLAC"]),
    )


def png_upload() -> st.SearchStrategy[bytes]:
    """A real picture of any size around the limits (8x8 to max_width x 1024)."""
    return st.builds(
        png_bytes,
        width=st.integers(1, 600),
        height=st.integers(1, 80),
        value=st.integers(0, 255),
    )


def with_real_uploads(context, body):
    """Random bytes never decode, so swap in real audio and images for some upload fields."""
    if not isinstance(body, dict) or context.operation is None:
        return st.just(body)
    if context.operation.path in UPLOAD_PATHS:
        # A form has no null: schemathesis would send the text "null"; leave the field out instead.
        body = {k: v for k, v in body.items() if v is not None}
    real = {"file": wav_upload(), "image": png_upload(), "mask": png_upload()}
    choices = {k: st.one_of(real[k], st.just(body[k])) for k in UPLOAD_FIELDS if k in body}
    swapped = st.fixed_dictionaries(choices).map(lambda new: {**body, **new})
    if context.operation.path == "/api/v1/inpaint":
        # inpaint takes audio or a spectrogram, not both: mostly send exactly one of them, and
        # often a time range (without a range or a mask it is refused before any work).
        source = st.sampled_from(["file", "image", "as generated"])
        span = st.fixed_dictionaries(
            {}, optional={"start_s": st.floats(0.0, 6.0), "end_s": st.floats(0.0, 8.0)}
        )
        swapped = st.tuples(swapped, source, real["file"], real["image"], span).map(_one_source)
    return swapped


def _one_source(args) -> dict:
    body, source, wav, png, span = args
    body = {**span, **body}
    if source == "as generated":
        return body
    other = "image" if source == "file" else "file"
    upload = body.get(source) or {"file": wav, "image": png}[source]
    return {**{k: v for k, v in body.items() if k != other}, source: upload}


schema.hook("flatmap_body")(with_real_uploads)

# Mixed valid/invalid requests rarely get past the first bad field to the upload handling, so the
# upload operations get a second, valid-only pass: real files with random parameters.
uploads = load_schema().include(func=lambda ctx: ctx.operation.path in UPLOAD_PATHS)
uploads.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE])
uploads.config.phases.update(phases=["examples", "fuzzing"])
uploads.hook("flatmap_body")(with_real_uploads)

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples on every run: a failure here is reproducible
)


def _check(case) -> None:
    response = case.call_and_validate(checks=[not_a_server_error])
    assert response.status_code < 500, (response.status_code, response.text[:500])


@schema.parametrize()
@FUZZ_SETTINGS
def test_no_server_errors(case):
    _check(case)


@uploads.parametrize()
@FUZZ_SETTINGS
def test_no_server_errors_with_real_uploads(case):
    _check(case)


@given(
    seconds=st.floats(0.0, 2.0),
    sr=st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000, 96000]),
)
@settings(max_examples=40, deadline=None, derandomize=True)
def test_upload_length_limit_is_in_seconds_at_any_sample_rate(seconds, sr):
    """Regression: the 80 ms minimum was counted in samples at 44.1 kHz, so a 0.4 s upload at
    8 kHz was refused as "shorter than 80 ms"."""
    client = TestClient(app_without_lifespan)  # no `with`: the shared pool stays open
    r = client.post("/api/v1/audio_to_image", files={"file": ("a.wav", wav_bytes(seconds, sr))})
    n = int(seconds * sr)
    if n / sr >= 0.0801:
        assert r.status_code == 200, r.text
        assert float(r.headers["x-duration-s"]) == pytest.approx(n / sr, abs=1e-3)
    elif n / sr < 0.0799:
        assert r.status_code == 422
        assert "shorter than 80 ms" in r.text or "no samples" in r.text or "empty" in r.text
