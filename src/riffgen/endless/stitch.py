"""Joining clips into one stream: short equal-power crossfades, constant memory.

Every clip contributes exactly ``period`` samples to the stream. The clip's first
``crossfade`` samples are mixed with the previous clip's samples ``[period, period + crossfade)``
(its "tail", the only audio kept between clips), so a seam has neither a gap nor a click.
When the seed image has a known tempo, ``period`` is a whole number of pattern loops, so the
beat grid of consecutive clips (all rendered from the same seed image, which starts on the
downbeat) lines up across the seam.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from riffgen.audio.mix import (
    conform_channels,
    crossfade,
    crossfade_gains,
    fade_out,
    join,
    normalize_peak,
)
from riffgen.errors import RiffgenError

if TYPE_CHECKING:
    from riffgen.diffusion.types import RiffgenOutput

__all__ = [
    "Stitcher",
    "conform_channels",
    "crossfade",
    "crossfade_curves",
    "fade_out",
    "loop_period",
]


def crossfade_curves(n: int, correlation: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Fade-out and fade-in gains over ``n`` samples, power-matched for ``correlation``.

    The seam curve of the stream: :func:`riffgen.audio.mix.crossfade_gains` with its defaults.
    """
    return crossfade_gains(n, correlation=correlation)


def loop_period(
    clip_samples: int,
    crossfade_samples: int,
    *,
    sample_rate: int,
    bpm: float | None = None,
    loop_beats: int = 4,
) -> int:
    """Samples each clip contributes: whole pattern loops of the seed's tempo when known.

    Without a tempo (or when not even one loop fits) it is ``clip_samples - crossfade``.
    """
    usable = clip_samples - crossfade_samples
    if usable <= 0:
        raise RiffgenError(
            f"clips of {clip_samples} samples are too short for a {crossfade_samples}-sample crossfade"
        )
    if not bpm or bpm <= 0 or loop_beats <= 0:
        return usable
    unit = loop_beats * 60.0 / bpm * sample_rate
    loops = int(usable // unit)
    return int(round(loops * unit)) if loops >= 1 else usable


class Stitcher:
    """Turns a sequence of clips into consecutive stream segments of ``period`` samples each.

    Holds only the previous clip's ``crossfade``-sample tail, so memory is flat.
    """

    def __init__(self, *, period: int, crossfade: int, channels: int | None = None) -> None:
        if period <= 0 or crossfade < 0:
            raise RiffgenError(f"bad stitching geometry: period {period}, crossfade {crossfade}")
        self.period = int(period)
        self.crossfade = int(crossfade)
        self.channels = channels
        self.tail: np.ndarray | None = None
        self.samples_out = 0

    def push(self, audio: np.ndarray) -> np.ndarray:
        """Add one clip ``[channels, n]``; returns the next ``period`` samples of the stream."""
        if self.channels is None:
            self.channels = 1 if np.asarray(audio).ndim == 1 else int(np.asarray(audio).shape[0])
        audio = conform_channels(audio, self.channels)
        period, xf = self.period, self.crossfade
        if audio.shape[-1] < period + xf:
            # A shorter clip than planned: pad with silence rather than shift the beat grid.
            audio = np.pad(audio, ((0, 0), (0, period + xf - audio.shape[-1])))
        if self.tail is None or xf == 0:
            segment = audio[:, :period].copy()
        else:
            segment = np.concatenate(
                [crossfade(self.tail, audio[:, :xf]), audio[:, xf:period]], axis=1
            )
        self.tail = audio[:, period : period + xf].copy()
        self.samples_out += segment.shape[-1]
        return segment

    def finish(self, *, fade_samples: int | None = None) -> np.ndarray:
        """The held tail, faded out (default: over its whole length), ending the stream."""
        if self.tail is None:
            return np.zeros((self.channels or 1, 0), dtype=np.float32)
        tail = fade_out(self.tail, self.tail.shape[-1] if fade_samples is None else fade_samples)
        self.tail = None
        self.samples_out += tail.shape[-1]
        return tail


def join_outputs(results: Sequence[RiffgenOutput], *, crossfade_s: float = 0.02) -> RiffgenOutput:
    """Clips one after another, as ``riffgen interpolate`` writes them: one level for all.

    Each generated clip was peak-normalised on its own, so side by side they would step in
    loudness at the joins; they are brought to one RMS level first (``match_levels``), joined
    with short equal-power seams and normalised once. The image is the spectrogram of the
    joined audio, so it shows what plays (no column jumps at the joins).
    """
    from riffgen.audio import audio_to_image
    from riffgen.audio.image import params_from_image
    from riffgen.diffusion.types import RiffgenOutput

    if not results:
        raise RiffgenError("nothing to join: no clips")
    sr = results[0].sample_rate
    audio = normalize_peak(
        join(
            [r.audio for r in results],
            crossfade_samples=int(crossfade_s * sr),
            grid="endpoints",
            match_power=False,
            match_levels=True,
        )
    )
    image = audio_to_image(audio, sr, params_from_image(results[0].image))
    params = {"mode": "interpolate", "clips": [r.parameters for r in results]}
    return RiffgenOutput(audio=audio, sample_rate=sr, image=image, parameters=params)
