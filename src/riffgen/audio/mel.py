"""Mel filterbank (HTK scale, no normalisation), bit-compatible with torchaudio's formula."""

from __future__ import annotations

import math
from functools import lru_cache

import torch

from riffgen.audio.params import SpectrogramParams


def hz_to_mel(freq: float) -> float:
    """HTK mel of ``freq`` Hz."""
    return 2595.0 * math.log10(1.0 + freq / 700.0)


def mel_to_hz(mels: torch.Tensor) -> torch.Tensor:
    """Hz of HTK mel values."""
    return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)


def mel_filterbank(
    *, n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int
) -> torch.Tensor:
    """Triangular filters, shape ``(n_freqs, n_mels)``, float32 on the CPU.

    Same construction as ``torchaudio.functional.melscale_fbanks(norm=None, mel_scale="htk")``:
    the STFT bins are ``linspace(0, sample_rate // 2, n_freqs)``.
    """
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    m_pts = torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2)
    f_pts = mel_to_hz(m_pts)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0)


@lru_cache(maxsize=8)
def _cached_filterbank(params: SpectrogramParams) -> torch.Tensor:
    # A normal tensor even when first made under torch.inference_mode (decoding): the cache
    # also serves training losses, and autograd refuses inference tensors.
    with torch.inference_mode(False):
        return mel_filterbank(
            n_freqs=params.n_fft // 2 + 1,
            f_min=params.min_frequency,
            f_max=params.max_frequency,
            n_mels=params.num_frequencies,
            sample_rate=params.sample_rate,
        )


def filterbank_for(params: SpectrogramParams, device: torch.device | str = "cpu") -> torch.Tensor:
    """The (cached) filterbank for ``params`` on ``device``, shape ``(n_freqs, n_mels)``."""
    return _cached_filterbank(params).to(device)


@lru_cache(maxsize=8)
def _cached_pinv(params: SpectrogramParams) -> torch.Tensor:
    with torch.inference_mode(False):
        fb = _cached_filterbank(params).double()
        pinv = torch.linalg.pinv(fb.T).float()
    # Minimum-norm least squares (what torchaudio's InverseMelScale gelsd solves) is the
    # pseudo-inverse; caching it turns a 0.2 s solve into a 0.03 s matmul.
    return pinv


def inverse_filterbank_for(
    params: SpectrogramParams, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Pseudo-inverse of the mel filterbank, shape ``(n_freqs, n_mels)``."""
    return _cached_pinv(params).to(device)
