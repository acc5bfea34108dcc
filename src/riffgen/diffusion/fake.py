"""A stand-in pipeline with the real one's call signatures: instant, deterministic music.

One fake for every test (server queueing and timeouts, the jam engine, whole-song transform,
the CLI) and for ``--model fake`` (try the web app on a machine without weights).
:class:`~riffgen.diffusion.types.Pipeline` is the protocol both it and the real pipeline
satisfy; ``tests/diffusion/test_protocol.py`` checks their signatures against it.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from riffgen.audio import SpectrogramParams, audio_to_image
from riffgen.audio.mix import normalize_peak
from riffgen.diffusion.types import DEFAULT_STEPS, PromptInput, RiffgenOutput, steps_for

Callback = Callable[[int, int], None] | None


class FakeCall(NamedTuple):
    """One request: the endpoints (a one-prompt call has ``start == end``), alpha, method."""

    start: PromptInput
    end: PromptInput
    alpha: float
    method: str


def _tone_hz(prompt: str) -> float:
    return 110.0 * 2 ** ((zlib.crc32(prompt.encode()) % 24) / 12)


class FakePipeline:
    """A chord per (prompt, seed), pulsing at 120 BPM; ``step_s`` seconds of sleep per step.

    ``interpolate`` follows the init image's loudness per column (so silence stays silence in
    a whole-song transform) with the start prompt's tone. ``calls`` records every request.
    """

    def __init__(self, *, step_s: float = 0.0, params: SpectrogramParams | None = None) -> None:
        self.step_s = step_s
        self.spectrogram_params = params or SpectrogramParams()
        self.default_steps = DEFAULT_STEPS
        self.calls: list[FakeCall] = []

    def _steps(self, n: int | None, callback: Callback) -> None:
        n = steps_for(self, n)
        for i in range(n):
            if self.step_s:
                time.sleep(self.step_s)
            if callback is not None:
                callback(i + 1, n)

    def _record(self, method: str, prompt: str, seed: int, **extra: Any) -> None:
        point = PromptInput(prompt, seed=seed, **extra)
        self.calls.append(FakeCall(point, point, 0.0, method))

    def _render(self, prompt: str, seed: int, width: int, params: dict) -> RiffgenOutput:
        sp = self.spectrogram_params
        n = sp.num_samples(width)
        digest = hashlib.sha256(f"{prompt}|{seed}".encode()).digest()
        t = np.arange(n, dtype=np.float32) / sp.sample_rate
        audio = np.zeros(n, dtype=np.float32)
        for k in range(3):
            freq = 110.0 * 2 ** (digest[k] / 64.0)
            audio += np.sin(2 * np.pi * freq * t).astype(np.float32) / 3
        # A pulse on every beat (120 BPM) so the clip sounds like a loop.
        audio *= 0.5 + 0.5 * np.exp(-((t * 2.0) % 1.0) * 6.0).astype(np.float32)
        audio = (audio / max(float(np.abs(audio).max()), 1e-9) * 0.98)[None]
        image = audio_to_image(audio, sp.sample_rate, sp)
        return RiffgenOutput(
            audio=audio,
            sample_rate=sp.sample_rate,
            image=image,
            parameters={"prompt": prompt, "seed": seed, **params},
        )

    def text_to_audio(
        self,
        prompt: str,
        *,
        negative_prompt: str | None = None,
        seed: int = 0,
        num_inference_steps: int | None = None,
        guidance: float = 7.0,
        width: int = 512,
        duration_s: float | None = None,
        scheduler: str | None = None,
        callback: Callback = None,
        tempo_seed: bool = True,  # the fake's tones have no beat to seed
    ) -> RiffgenOutput:
        self._record("text_to_audio", prompt, seed, negative_prompt=negative_prompt)
        if duration_s is not None:
            width = round(
                duration_s
                * self.spectrogram_params.sample_rate
                / self.spectrogram_params.hop_length
            )
        self._steps(num_inference_steps, callback)
        return self._render(
            prompt, seed, width, {"negative_prompt": negative_prompt, "guidance": guidance}
        )

    def audio_to_audio(
        self,
        prompt: str,
        *,
        init_image: Image.Image | None = None,
        init_audio: np.ndarray | None = None,
        sample_rate: int | None = None,
        denoising: float = 0.75,
        negative_prompt: str | None = None,
        seed: int = 0,
        num_inference_steps: int | None = None,
        guidance: float = 7.0,
        scheduler: str | None = None,
        callback: Callback = None,
    ) -> RiffgenOutput:
        self._record("audio_to_audio", prompt, seed, denoising=denoising)
        if init_image is None:
            init_image = audio_to_image(init_audio, sample_rate, self.spectrogram_params)
        self._steps(max(1, int(steps_for(self, num_inference_steps) * denoising)), callback)
        return self._render(prompt, seed, init_image.width, {"denoising": denoising})

    def inpaint(
        self,
        prompt: str,
        *,
        init_image: Image.Image | None = None,
        init_audio: np.ndarray | None = None,
        sample_rate: int | None = None,
        mask_image: Image.Image | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        min_hz: float | None = None,
        max_hz: float | None = None,
        denoising: float = 1.0,
        negative_prompt: str | None = None,
        seed: int = 0,
        num_inference_steps: int | None = None,
        guidance: float = 7.0,
        scheduler: str | None = None,
        callback: Callback = None,
    ) -> RiffgenOutput:
        self._record("inpaint", prompt, seed, denoising=denoising)
        if init_image is None:
            init_image = audio_to_image(init_audio, sample_rate, self.spectrogram_params)
        self._steps(num_inference_steps, callback)
        return self._render(prompt, seed, init_image.width, {"start_s": start_s, "end_s": end_s})

    def interpolate(
        self,
        start: PromptInput,
        end: PromptInput,
        alpha: float,
        *,
        init_image: Image.Image,
        mask_image: Image.Image | None = None,
        num_inference_steps: int | None = None,
        scheduler: str | None = None,
        callback: Callback = None,
    ) -> RiffgenOutput:
        self.calls.append(FakeCall(start, end, alpha, "interpolate"))
        params = self.spectrogram_params
        pixels = np.asarray(init_image.convert("L"), dtype=np.float64)
        loud = ((255.0 - pixels) / 255.0).mean(axis=0) ** 4  # per column, 0 = silence
        n = params.num_samples(init_image.width)
        env = np.interp(np.arange(n) / params.hop_length, np.arange(loud.size), loud)
        t = np.arange(n) / params.sample_rate
        audio = (env * np.sin(2 * np.pi * _tone_hz(start.prompt) * t))[None].astype(np.float32)
        self._steps(num_inference_steps, callback)
        return RiffgenOutput(
            audio=normalize_peak(audio),
            sample_rate=params.sample_rate,
            image=init_image,
            parameters={"start": start, "end": end, "alpha": alpha},
        )


def fake_seed_images() -> dict[str, Image.Image]:
    """Seeds for the fake backend: a 512-px beat pattern and a mask, no files needed."""
    beat = np.full((512, 512), 255, dtype=np.uint8)
    beat[-60:, ::50] = 40  # kick drum columns at the bottom of the spectrum
    beat[-200:-100, 25::50] = 120
    mask = np.zeros((512, 512), dtype=np.uint8)
    mask[:170] = 255
    return {
        "og_beat": Image.fromarray(beat).convert("RGB"),
        "mask_top_third_75": Image.fromarray(mask).convert("RGB"),
    }
