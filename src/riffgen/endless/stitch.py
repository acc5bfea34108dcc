"""Joining clips into one stream: short equal-power crossfades, constant memory.

Every clip contributes exactly ``period`` samples to the stream. The clip's first
``crossfade`` samples are mixed with the previous clip's samples ``[period, period + crossfade)``
(its "tail", the only audio kept between clips), so a seam has neither a gap nor a click.
When the seed image has a known tempo, ``period`` is a whole number of pattern loops, so the
beat grid of consecutive clips (all rendered from the same seed image, which starts on the
downbeat) lines up across the seam.
"""

from __future__ import annotations

import numpy as np

from riffgen.errors import RiffgenError


def crossfade_curves(n: int, correlation: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Fade-out and fade-in gains over ``n`` samples.

    Equal-power (cos/sin) for uncorrelated material (``correlation`` 0), normalised so the
    expected power stays constant for correlated material too (``correlation`` 1 gives
    equal-gain, sum 1): ``out² + in² + 2·ρ·out·in = 1``.
    """
    t = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    fade_in = np.sin(0.5 * np.pi * t)
    fade_out = np.cos(0.5 * np.pi * t)
    rho = float(np.clip(correlation, 0.0, 1.0))
    norm = np.sqrt(fade_in**2 + fade_out**2 + 2 * rho * fade_in * fade_out)
    return (fade_out / norm).astype(np.float32), (fade_in / norm).astype(np.float32)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised zero-lag correlation of two equally long signals (0 when silent)."""
    denom = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b)) / denom if denom > 0 else 0.0


def crossfade(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Mix ``tail`` (fading out) into ``head`` (fading in); both ``[channels, n]``."""
    fade_out, fade_in = crossfade_curves(head.shape[-1], correlation(tail, head))
    return (tail * fade_out + head * fade_in).astype(np.float32)


def fade_out(audio: np.ndarray, n: int) -> np.ndarray:
    """Copy of ``audio`` with its last ``n`` samples faded to silence (raised cosine)."""
    out = np.array(audio, dtype=np.float32, copy=True)
    n = min(n, out.shape[-1])
    if n > 0:
        ramp = 0.5 * (1 + np.cos(np.pi * (np.arange(n) + 1) / n))
        out[..., -n:] *= ramp.astype(np.float32)
    return out


def conform_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """``[c, n]`` -> ``[channels, n]`` by downmix or duplication."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    if audio.shape[0] == channels:
        return audio
    if channels == 1:
        return audio.mean(axis=0, keepdims=True)
    return np.repeat(audio.mean(axis=0, keepdims=True), channels, axis=0)


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
