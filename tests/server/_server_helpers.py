"""Helpers shared by the server tests (apps around fake or debug pipelines, test inputs)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient
from PIL import Image

from riffgen.diffusion.fake import FakePipeline
from riffgen.server import DictSeedRegistry, ModelWorker, ServerConfig, WorkerPool, create_app
from riffgen.server.seeds import builtin_mask


def small_seed_registry() -> DictSeedRegistry:
    """A 128-column beat seed named like the original's (cheap to diffuse and decode) and a mask."""
    beat = np.full((64, 128), 255, dtype=np.uint8)
    beat[-12:, ::25] = 30
    beat[20:40, 12::25] = 120
    images = {
        "og_beat": Image.fromarray(beat).convert("RGB"),
        "mask_top_third_75": builtin_mask("mask_top_third_75").resize((128, 64)),
    }
    return DictSeedRegistry(images, bpms={"og_beat": 120.0})


class SpyPipeline(FakePipeline):
    """FakePipeline that records the keyword arguments of every call."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.kwargs: list[dict[str, Any]] = []

    def text_to_audio(self, prompt, **kw):
        self.kwargs.append({"prompt": prompt, **kw})
        return super().text_to_audio(prompt, **kw)

    def interpolate(self, start, end, alpha, **kw):
        self.kwargs.append({"start": start, "end": end, "alpha": alpha, **kw})
        return super().interpolate(start, end, alpha, **kw)

    def inpaint(self, prompt, **kw):
        self.kwargs.append({"prompt": prompt, **kw})
        return super().inpaint(prompt, **kw)

    def audio_to_audio(self, prompt, **kw):
        self.kwargs.append({"prompt": prompt, **kw})
        return super().audio_to_audio(prompt, **kw)


@contextmanager
def make_client(
    pipeline: Any | None = None, *, registry=None, workers: int = 1, **config: Any
) -> Iterator[TestClient]:
    pipeline = pipeline if pipeline is not None else FakePipeline()
    max_queue = config.pop("max_queue", 4)
    pool = WorkerPool(
        [ModelWorker(pipeline, max_queue=max_queue, device=f"cpu:{i}") for i in range(workers)]
    )
    # TestClient sends ``Host: testserver``, a name the server must be told it answers to.
    config.setdefault("allowed_hosts", ("testserver",))
    app = create_app(
        pool, registry or small_seed_registry(), ServerConfig(max_queue=max_queue, **config)
    )
    with TestClient(app) as client:
        yield client


def wav_bytes(seconds: float = 1.0, sr: int = 44100, channels: int = 1, fmt: str = "WAV") -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    data = np.stack([tone] * channels, axis=1)
    buf = io.BytesIO()
    sf.write(buf, data, sr, format=fmt)
    return buf.getvalue()


def png_bytes(width: int = 64, height: int = 64, value: int = 128) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (width, height), value).save(buf, format="PNG")
    return buf.getvalue()


def compat_body(**changes: Any) -> dict[str, Any]:
    body = {
        "alpha": 0.25,
        "num_inference_steps": 2,
        "seed_image_id": "og_beat",
        "start": {"prompt": "jazz", "seed": 1, "denoising": 0.75, "guidance": 7.0},
        "end": {"prompt": "rock", "seed": 2, "denoising": 0.75, "guidance": 7.0},
    }
    body.update(changes)
    return body


def decode_data_url(url: str) -> bytes:
    head, b64 = url.split(",", 1)
    assert head.endswith(";base64")
    return base64.b64decode(b64)


def receive(ws: Any, kind: str) -> dict:
    """The next jam websocket message of type ``kind`` (skipping others); an error message
    while waiting for another kind fails the test with it."""
    for _ in range(20):
        message = ws.receive_json()
        if message["type"] == kind:
            return message
        if message["type"] == "error" and kind != "error":
            raise AssertionError(message)
    raise AssertionError(f"no {kind} message")
