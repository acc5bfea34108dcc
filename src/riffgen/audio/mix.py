"""Level and mixing: peak normalisation, crossfades, joining clips, channel conforming.

All audio is float32 ``[channels, n]`` (``[n]`` is accepted where noted); gains are linear,
levels in dB re full scale (dBFS), lengths in samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from riffgen.errors import RiffgenError

# The original Riffusion normalised its output to -0.1 dBFS: a hair below full scale, so a
# lossy encoder's overshoot does not clip.
PEAK_DBFS = -0.1

Curve = Literal["equal_power", "linear"]
Grid = Literal["midpoint", "endpoints"]
CURVES = ("equal_power", "linear")
GRIDS = ("midpoint", "endpoints")


def normalize_peak(samples: np.ndarray, *, peak_dbfs: float = PEAK_DBFS) -> np.ndarray:
    """Scale so the largest absolute sample is at ``peak_dbfs`` (dBFS).

    Silence (and audio whose peak is not finite) is returned unscaled, as float32.
    """
    samples = np.asarray(samples, dtype=np.float32)
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    if peak > 0 and np.isfinite(peak):
        samples = samples * np.float32(10 ** (peak_dbfs / 20) / peak)
    return samples


def limit_peak(samples: np.ndarray, *, ceiling: float = 1.0) -> np.ndarray:
    """Scale down only when the largest absolute sample exceeds ``ceiling`` (linear, 1 = 0 dBFS).

    Unlike :func:`normalize_peak` quiet audio keeps its level; only what would clip is lowered.
    """
    samples = np.asarray(samples, dtype=np.float32)
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    if peak > ceiling and np.isfinite(peak):
        samples = samples / np.float32(peak / ceiling)
    return samples


def crossfade_gains(
    n: int,
    *,
    curve: Curve = "equal_power",
    grid: Grid = "midpoint",
    correlation: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fade-out and fade-in gains (float32) over ``n`` samples.

    ``curve``: ``"equal_power"`` (cos/sin: constant power for uncorrelated material) or
    ``"linear"`` (1-t/t: constant amplitude for identical material).
    ``grid``: ``"midpoint"`` samples the fade at ``t = (k + 0.5) / n`` (symmetric, no sample is
    all-old or all-new); ``"endpoints"`` at ``t = k / (n - 1)`` (first sample all old, last
    all new).
    ``correlation`` ρ in [0, 1], when given, rescales both gains so the expected power of
    the mix stays constant for material that correlated: ``out² + in² + 2·ρ·out·in = 1``.
    """
    if curve not in CURVES:
        raise RiffgenError(f"unknown crossfade curve {curve!r}: use one of {', '.join(CURVES)}")
    if grid not in GRIDS:
        raise RiffgenError(f"unknown crossfade grid {grid!r}: use one of {', '.join(GRIDS)}")
    if n < 0:
        raise RiffgenError(f"crossfade length must be >= 0 samples, got {n}")
    if grid == "endpoints":
        # Computed in float32, as riffgen's clip join always did: its output stays bit-identical.
        if curve == "equal_power":
            theta = np.linspace(0.0, np.pi / 2, n, dtype=np.float32)
            fade_out, fade_in = np.cos(theta), np.sin(theta)
        else:
            fade_in = np.linspace(0.0, 1.0, n, dtype=np.float32)
            fade_out = np.float32(1) - fade_in
    else:
        t = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
        if curve == "equal_power":
            fade_out, fade_in = np.cos(0.5 * np.pi * t), np.sin(0.5 * np.pi * t)
        else:
            fade_out, fade_in = 1.0 - t, t
    if correlation is not None:
        rho = float(np.clip(correlation, 0.0, 1.0))
        out64, in64 = fade_out.astype(np.float64), fade_in.astype(np.float64)
        norm = np.sqrt(in64**2 + out64**2 + 2 * rho * in64 * out64)
        fade_out, fade_in = out64 / norm, in64 / norm
    return fade_out.astype(np.float32), fade_in.astype(np.float32)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised zero-lag correlation of two equally shaped signals (0 when either is silent)."""
    denom = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b)) / denom if denom > 0 else 0.0


def match_polarity(tail: np.ndarray, audio: np.ndarray) -> np.ndarray:
    """``audio``, or ``-audio`` where its start clearly anti-correlates with ``tail``.

    ``tail`` ``[channels, n]`` is what ``audio`` crossfades from over its first ``n``
    samples. Clips decoded one by one get their phase independently, and for tonal material
    they can meet in opposite polarity: no crossfade gain then avoids a dip (measured: 1.4 dB
    on a held tone at a transform window join). Absolute polarity is inaudible; cancellation
    is not. Material that merely differs (|correlation| < 0.25) is left as it is.
    """
    n = min(tail.shape[-1], audio.shape[-1])
    if n and correlation(tail[..., :n], audio[..., :n]) < -0.25:
        return -audio
    return audio


def crossfade(
    tail: np.ndarray,
    head: np.ndarray,
    *,
    curve: Curve = "equal_power",
    grid: Grid = "midpoint",
    match_power: bool = True,
) -> np.ndarray:
    """Mix ``tail`` (fading out) into ``head`` (fading in); both ``[channels, n]``.

    ``match_power`` measures the two signals' correlation and keeps the mix's power
    constant for it (see :func:`crossfade_gains`); without it the plain curve is used.
    """
    if np.shape(tail) != np.shape(head):
        raise RiffgenError(f"crossfade of unequal shapes {np.shape(tail)} and {np.shape(head)}")
    rho = correlation(tail, head) if match_power else None
    fade_out, fade_in = crossfade_gains(head.shape[-1], curve=curve, grid=grid, correlation=rho)
    return (tail * fade_out + head * fade_in).astype(np.float32)


def rms(audio: np.ndarray) -> float:
    """Root-mean-square level (linear, 1 = full scale) over all channels and samples."""
    audio = np.asarray(audio, dtype=np.float64)
    return float(np.sqrt(np.mean(audio * audio))) if audio.size else 0.0


def level_gains(clips: Sequence[np.ndarray], *, max_gain_db: float = 12.0) -> list[float]:
    """Gains that bring every clip to the same RMS level: the geometric mean of the clips'
    levels, each gain limited to ``max_gain_db`` dB either way; silent clips get 1.

    Clips decoded one by one are each peak-normalised, so their RMS levels differ with
    their crest factor (one drum hit halves a clip's level) and mean nothing relative to
    each other; equal RMS is the neutral choice. The limit keeps a near-silent clip (a
    break) from being pulled up to the others' level.
    """
    levels = [rms(c) for c in clips]
    audible = [v for v in levels if v > 0]
    if not audible:
        return [1.0] * len(clips)
    target = float(np.exp(np.mean(np.log(audible))))
    limit = 10 ** (max_gain_db / 20)
    return [float(np.clip(target / v, 1 / limit, limit)) if v > 0 else 1.0 for v in levels]


def join(
    clips: Sequence[np.ndarray],
    *,
    crossfade_samples: int,
    curve: Curve = "equal_power",
    grid: Grid = "midpoint",
    match_power: bool = True,
    match_levels: bool = False,
) -> np.ndarray:
    """Concatenate clips ``[channels, n_i]``, overlapping each seam by ``crossfade_samples``.

    A seam is shortened to the shorter of the two sides when a clip is shorter than the
    crossfade. The result has ``sum(n_i) - overlaps`` samples. For the interpolation join
    of ``riffgen interpolate`` use ``grid="endpoints", match_power=False``; the jam stitcher
    (:class:`riffgen.endless.stitch.Stitcher`) streams the same seams with the defaults.

    ``match_levels``: first scale the clips to one RMS level (:func:`level_gains`), for
    clips that were each peak-normalised on their own and would step in level at the
    seams; normalise the joined result once afterwards (:func:`normalize_peak`), since the
    gains may take it past full scale.
    """
    if not clips:
        raise RiffgenError("nothing to join: no clips")
    if crossfade_samples < 0:
        raise RiffgenError(f"crossfade must be >= 0 samples, got {crossfade_samples}")
    arrays = [np.asarray(clip, dtype=np.float32) for clip in clips]
    if match_levels:
        arrays = [a * np.float32(g) for a, g in zip(arrays, level_gains(arrays), strict=True)]
    audio = arrays[0]
    for nxt in arrays[1:]:
        n = min(crossfade_samples, audio.shape[-1], nxt.shape[-1])
        cut = audio.shape[-1] - n
        if match_power:
            nxt = match_polarity(audio[..., cut:], nxt)
        mixed = crossfade(
            audio[..., cut:], nxt[..., :n], curve=curve, grid=grid, match_power=match_power
        )
        audio = np.concatenate([audio[..., :cut], mixed, nxt[..., n:]], axis=-1)
    return audio


def fade_out(audio: np.ndarray, n: int) -> np.ndarray:
    """Copy of ``audio`` with its last ``n`` samples faded to silence (raised cosine)."""
    out = np.array(audio, dtype=np.float32, copy=True)
    n = min(n, out.shape[-1])
    if n > 0:
        ramp = 0.5 * (1 + np.cos(np.pi * (np.arange(n) + 1) / n))
        out[..., -n:] *= ramp.astype(np.float32)
    return out


def conform_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """``[c, n]`` (or ``[n]``) -> ``[channels, n]`` by downmix (mean) or duplication."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    if audio.shape[0] == channels:
        return audio
    if channels == 1:
        return audio.mean(axis=0, keepdims=True)
    return np.repeat(audio.mean(axis=0, keepdims=True), channels, axis=0)
