"""Seam measurements: is the join between clips (or a loop's wrap) audible as a jump?

Two figures, each compared between the seams and the inside of clips:
- waveform jump: ``|x[n+1] - x[n]|``, the click a discontinuity makes;
- spectral flux: the positive change in magnitude spectrum between 10 ms frames, which
  catches gaps and abrupt timbre changes that a sample-level view misses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FRAME = 1024
HOP = 441


def mono(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float64)
    return audio if audio.ndim == 1 else audio.mean(axis=0)


def sample_jumps(audio: np.ndarray) -> np.ndarray:
    """``|x[n+1] - x[n]|`` of the mono mix (length n - 1)."""
    return np.abs(np.diff(mono(audio)))


def spectral_flux(
    audio: np.ndarray, *, frame: int = FRAME, hop: int = HOP
) -> tuple[np.ndarray, np.ndarray]:
    """(flux per frame boundary, centre sample of each boundary); flux normalised by frame energy."""
    x = mono(audio)
    if x.size < frame + hop:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    starts = np.arange(0, x.size - frame + 1, hop)
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[starts] * np.hanning(frame)
    mags = np.abs(np.fft.rfft(frames, axis=1))
    diff = np.maximum(mags[1:] - mags[:-1], 0.0).sum(axis=1)
    norm = mags.sum(axis=1).mean() + 1e-12
    centres = starts[1:] + frame // 2
    return diff / norm, centres


@dataclass(frozen=True)
class SeamReport:
    """Largest jump/flux near seams vs inside clips (ratios <= 1 mean the seams are not worse)."""

    seam_jump: float
    inside_jump: float
    seam_flux: float
    inside_flux: float

    @property
    def jump_ratio(self) -> float:
        return self.seam_jump / max(self.inside_jump, 1e-12)

    @property
    def flux_ratio(self) -> float:
        return self.seam_flux / max(self.inside_flux, 1e-12)


def seam_report(audio: np.ndarray, seams: Sequence[int], *, radius: int = 2205) -> SeamReport:
    """Compare the neighbourhood (``radius`` samples, default 50 ms) of each seam with the rest.

    ``seams`` are sample positions where one clip ends and the next begins (or, for a loop,
    ``len(audio)`` of a two-period render).
    """
    jumps = sample_jumps(audio)
    near = np.zeros(jumps.size, dtype=bool)
    for s in seams:
        near[max(0, s - radius) : min(jumps.size, s + radius)] = True
    flux, centres = spectral_flux(audio)
    near_f = np.zeros(flux.size, dtype=bool)
    for s in seams:
        near_f |= np.abs(centres - s) <= radius + FRAME // 2
    return SeamReport(
        seam_jump=float(jumps[near].max()) if near.any() else 0.0,
        inside_jump=float(jumps[~near].max()) if (~near).any() else 0.0,
        seam_flux=float(flux[near_f].max()) if near_f.any() else 0.0,
        inside_flux=float(flux[~near_f].max()) if (~near_f).any() else 0.0,
    )
