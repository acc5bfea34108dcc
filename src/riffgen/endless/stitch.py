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
    PEAK_DBFS,
    conform_channels,
    crossfade,
    crossfade_gains,
    fade_out,
    join,
    match_polarity,
    normalize_peak,
    rms,
)
from riffgen.errors import RiffgenError

if TYPE_CHECKING:
    from riffgen.diffusion.types import RiffgenOutput

__all__ = [
    "LevelMatcher",
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


class LevelMatcher:
    """A running gain for a stream of clips that were each peak-normalised on their own.

    Clips decoded one by one all peak at full scale, so their RMS levels differ with their
    crest factor and the stream would step by up to 10-15 dB at the joins. A stream cannot
    wait for every clip and normalise once (as :func:`join_outputs` does), so each clip is
    brought to the stream's level instead: the first audible clip sets it, ``headroom_db``
    below its own level, which leaves room to lift later clips with sparser peaks; peaks
    that would still pass ``ceiling`` are limited (:func:`limit_peaks`), not the whole clip.
    Gains stay within ``max_gain_db`` either way, so a near-silent clip (a break) stays
    quiet instead of being pulled up.
    """

    def __init__(
        self,
        *,
        headroom_db: float = 6.0,
        max_gain_db: float = 12.0,
        ceiling: float = 10 ** (PEAK_DBFS / 20),
    ) -> None:
        self.headroom = 10 ** (-headroom_db / 20)
        self.max_gain = 10 ** (max_gain_db / 20)
        self.ceiling = ceiling
        self.level: float | None = None  # the stream's level (linear RMS), set by clip one

    def gain(self, audio: np.ndarray) -> float:
        """The gain that brings ``audio`` (the part of the next clip that will play) to the
        stream's level; 1 for silence."""
        level = rms(audio)
        if level <= 1e-6 or not np.isfinite(level):
            return 1.0
        if self.level is None:
            self.level = level * self.headroom
        return float(np.clip(self.level / level, 1 / self.max_gain, self.max_gain))

    def apply(self, audio: np.ndarray) -> tuple[np.ndarray, float]:
        """``audio`` at the stream's level, its peaks limited to ``ceiling``; and the gain."""
        gain = self.gain(audio)
        out = audio * np.float32(gain)
        return limit_peaks(out, ceiling=self.ceiling), gain


def limit_peaks(audio: np.ndarray, *, ceiling: float, window: int = 220) -> np.ndarray:
    """``audio`` ``[channels, n]`` with every sample within ``ceiling``, the gain lowered only
    around the peaks that pass it: a look-ahead limiter whose gain changes over
    ``2 * window`` samples (10 ms at 44.1 kHz), so a few loud hits do not turn the clip down.

    Each sample's needed gain is min-filtered over +-w samples, then averaged over +-w: the
    mean of values that are all at most the gain needed at the centre, so no sample passes.
    """
    peak = np.abs(audio).max(axis=0) if audio.size else np.zeros(0)
    if not audio.size or float(peak.max()) <= ceiling:
        return audio
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    w = max(1, int(window))
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    gain = uniform_filter1d(minimum_filter1d(need, 2 * w + 1, mode="nearest"), 2 * w + 1,
                            mode="nearest")  # fmt: skip
    # The running mean's float rounding may leave a sample a hair above: clip that hair too.
    return np.clip(audio * gain.astype(np.float32), -ceiling, ceiling)


class Stitcher:
    """Turns a sequence of clips into consecutive stream segments of ``period`` samples each.

    Holds only the previous clip's ``crossfade``-sample tail, so memory is flat. With
    ``match_levels`` every clip first gets the running gain of a :class:`LevelMatcher`
    (``gains`` records them), so peak-normalised clips play at one level.
    """

    def __init__(
        self,
        *,
        period: int,
        crossfade: int,
        channels: int | None = None,
        match_levels: bool = False,
    ) -> None:
        if period <= 0 or crossfade < 0:
            raise RiffgenError(f"bad stitching geometry: period {period}, crossfade {crossfade}")
        self.period = int(period)
        self.crossfade = int(crossfade)
        self.channels = channels
        self.tail: np.ndarray | None = None
        self.samples_out = 0
        self.levels = LevelMatcher() if match_levels else None
        self.gains: list[float] = []

    def push(self, audio: np.ndarray) -> np.ndarray:
        """Add one clip ``[channels, n]``; returns the next ``period`` samples of the stream."""
        if self.channels is None:
            self.channels = 1 if np.asarray(audio).ndim == 1 else int(np.asarray(audio).shape[0])
        audio = conform_channels(audio, self.channels)
        period, xf = self.period, self.crossfade
        if audio.shape[-1] < period + xf:
            # A shorter clip than planned: pad with silence rather than shift the beat grid.
            audio = np.pad(audio, ((0, 0), (0, period + xf - audio.shape[-1])))
        if self.levels is not None:
            audio, gain = self.levels.apply(audio[:, : period + xf])
            self.gains.append(gain)
        if self.tail is None or xf == 0:
            segment = audio[:, :period].copy()
        else:
            audio = match_polarity(self.tail, audio)
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
