"""Tempo estimation by autocorrelation of an onset-strength envelope.

Onset strength is the half-wave-rectified rise of log-mel energy, summed over bands, at the
spectrogram's 10 ms frame rate. Its autocorrelation peaks at the beat period; candidates in
``min_bpm..max_bpm`` are scored with their half, double and triple periods and a prior
around 120 BPM that settles octave ambiguity the usual way.
"""

from __future__ import annotations

import numpy as np
import torch

from riffgen.audio import SpectrogramParams
from riffgen.audio.spectrogram import mel_spectrogram
from riffgen.errors import RiffgenError
from riffgen.evaluation.features import log_bands


def onset_envelope(mel: np.ndarray) -> np.ndarray:
    """Onset strength per frame of a mel spectrogram ``(n_mels, frames)`` (any scale)."""
    mel = np.asarray(mel, dtype=np.float32)
    peak = float(mel.max())
    bands = log_bands(mel / peak if peak > 0 else mel)
    rise = np.maximum(np.diff(bands, axis=1), 0.0).mean(axis=0)
    # Remove the slowly varying part (crescendos, note decays), keep the attacks.
    kernel = np.ones(15, dtype=np.float32) / 15
    local = np.convolve(rise, kernel, mode="same")
    return np.maximum(rise - local, 0.0)


def _interp(acf: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """``acf`` at fractional ``lags`` (linear interpolation, clamped to the last lag)."""
    x = np.clip(lags, 0, acf.size - 1)
    lo = np.floor(x).astype(int)
    hi = np.minimum(lo + 1, acf.size - 1)
    frac = x - lo
    return acf[lo] * (1 - frac) + acf[hi] * frac


def estimate_tempo_from_mel(
    mel: np.ndarray,
    *,
    frame_rate: float = 100.0,
    min_bpm: float = 60.0,
    max_bpm: float = 180.0,
    prior_bpm: float = 120.0,
    prior_octaves: float = 0.7,
) -> float:
    """Tempo (BPM) of a mel spectrogram with ``frame_rate`` frames per second.

    A beat period P scores ``acf(P) + acf(P/2) + acf(2P) + 0.5 acf(3P)``: the true beat
    has strong subdivisions and multiples, while a dotted period (3/2 beat, common with
    steady eighth-note hi-hats) has a weak half. Weights and the prior (centre, width in
    octaves) were tuned on 77 rhythmic training renders (strict 74 %, octave 94 %).
    """
    env = onset_envelope(mel)
    env = env - env.mean()
    n = env.size
    if n < 8 or not np.any(env):
        return float("nan")
    spectrum = np.fft.rfft(env, 2 * n)
    acf = np.fft.irfft(np.abs(spectrum) ** 2)[:n]
    acf = acf / (np.arange(n, 0, -1))  # unbiased: long lags have fewer overlapping frames
    if acf[0] <= 0:
        return float("nan")
    acf = acf / acf[0]
    lo = max(int(np.floor(60.0 * frame_rate / max_bpm)), 2)
    hi = min(int(np.ceil(60.0 * frame_rate / min_bpm)), n // 2 - 1)
    if hi <= lo:
        raise RiffgenError("clip is too short to estimate a tempo")
    lags = np.arange(lo, hi + 1, dtype=np.float64)
    score = (
        _interp(acf, lags)
        + _interp(acf, lags / 2)
        + _interp(acf, 2 * lags)
        + 0.5 * _interp(acf, 3 * lags)
    )
    bpm = 60.0 * frame_rate / lags
    score = score * np.exp(-0.5 * (np.log2(bpm / prior_bpm) / prior_octaves) ** 2)
    best = int(np.argmax(score))
    lag = float(lags[best])
    if 0 < best < len(lags) - 1:  # parabolic refinement between integer lags
        a, b, c = score[best - 1], score[best], score[best + 1]
        denom = a - 2 * b + c
        if denom < 0:
            lag += 0.5 * (a - c) / denom
    return float(60.0 * frame_rate / lag)


def estimate_tempo(
    audio: np.ndarray, sample_rate: int, *, min_bpm: float = 60.0, max_bpm: float = 180.0
) -> float:
    """Tempo in BPM of audio ``[n]`` or ``[channels, n]`` at ``sample_rate`` Hz."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=0)
    params = SpectrogramParams(
        sample_rate=int(sample_rate), max_frequency=min(10000, sample_rate // 2)
    )
    mel = mel_spectrogram(torch.from_numpy(np.ascontiguousarray(audio)), params).numpy()
    return estimate_tempo_from_mel(
        mel, frame_rate=1000.0 / params.step_size_ms, min_bpm=min_bpm, max_bpm=max_bpm
    )


def tempo_matches(
    estimate: float, truth: float, *, tolerance: float = 0.10, octave: bool = False
) -> bool:
    """Whether ``estimate`` is within ``tolerance`` (relative) of ``truth`` BPM.

    With ``octave``, half and double the true tempo also count.
    """
    if not np.isfinite(estimate) or truth <= 0:
        return False
    targets = (truth, truth / 2, truth * 2) if octave else (truth,)
    return any(abs(estimate - t) <= tolerance * t for t in targets)
