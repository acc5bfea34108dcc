"""A cheap stand-in for the jam engine's clip maker (the fake pipeline is riffgen.diffusion.fake)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from riffgen.audio.image import params_from_image
from riffgen.diffusion.types import PromptInput, RiffgenOutput


def _tone_hz(prompt: str) -> float:
    return 110.0 * 2 ** ((zlib.crc32(prompt.encode()) % 24) / 12)


@dataclass
class FakeClipMaker:
    """A :class:`~riffgen.endless.engine.ClipMaker` that makes music-like audio in microseconds.

    Each clip is a decaying tone per beat (pitch from the prompts, mixed by ``alpha``) plus
    noise from the seeds, with a random phase per clip (as Griffin-Lim gives), the length the
    init image decodes to. ``interrupt_after`` raises KeyboardInterrupt on that call (Ctrl-C
    tests); ``calls`` records every request.
    """

    interrupt_after: int | None = None
    channels: int = 1
    calls: list[tuple[PromptInput, PromptInput, float]] = field(default_factory=list)

    def __call__(
        self,
        start: PromptInput,
        end: PromptInput,
        alpha: float,
        init_image: Image.Image,
        mask_image: Image.Image | None = None,
    ) -> RiffgenOutput:
        if self.interrupt_after is not None and len(self.calls) >= self.interrupt_after:
            raise KeyboardInterrupt
        self.calls.append((start, end, alpha))
        params = params_from_image(init_image)
        sr = params.sample_rate
        n = params.num_samples(init_image.width)
        rng = np.random.default_rng([start.seed, end.seed, int(alpha * 1000), len(self.calls)])
        t = np.arange(n) / sr
        tb = t % 0.5
        beat = np.minimum(1.0, tb / 0.005) * np.exp(-tb / 0.15)  # 5 ms attack: no clicks inside
        phase = rng.uniform(0, 2 * np.pi)
        tone = (1 - alpha) * np.sin(
            2 * np.pi * _tone_hz(start.prompt) * t + phase
        ) + alpha * np.sin(2 * np.pi * _tone_hz(end.prompt) * t + phase)
        noise = np.convolve(rng.standard_normal(n), np.ones(16) / 16, mode="same")  # soft hiss
        audio = 0.6 * beat * tone + 0.05 * noise
        audio = np.repeat(audio[None].astype(np.float32), self.channels, axis=0)
        audio *= 10 ** (-0.1 / 20) / np.abs(audio).max()
        parameters = {"start": start, "end": end, "alpha": alpha}
        return RiffgenOutput(audio=audio, sample_rate=sr, image=init_image, parameters=parameters)
