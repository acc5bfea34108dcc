"""An independent re-implementation of the original Riffusion image encoding, for comparison.

Written from the published format (riffusion/util/image_util.py and torchaudio's
Spectrogram/MelScale formulas), sharing no code with riffgen: numpy for the filterbank and
quantisation, ``torch.stft`` for the STFT.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def htk_filterbank(
    *, n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int
) -> np.ndarray:
    """torchaudio.functional.melscale_fbanks(norm=None, mel_scale="htk"), float32 (n_freqs, n_mels)."""
    all_freqs = np.linspace(0, sample_rate // 2, n_freqs, dtype=np.float32)
    m_min = 2595.0 * np.log10(1.0 + f_min / 700.0)
    m_max = 2595.0 * np.log10(1.0 + f_max / 700.0)
    m_pts = np.linspace(m_min, m_max, n_mels + 2, dtype=np.float32)
    f_pts = (700.0 * (10.0 ** (m_pts / 2595.0) - 1.0)).astype(np.float32)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up)).astype(np.float32)


def original_image(
    samples: np.ndarray,
    *,
    sample_rate: int = 44100,
    n_mels: int = 512,
    f_min: float = 0.0,
    f_max: float = 10000.0,
    power: float = 0.25,
) -> Image.Image:
    """``samples`` ``(channels, n)`` (1 = mono, 2 = stereo) -> the original's RGB image."""
    n_fft = int(400 / 1000.0 * sample_rate)
    win = int(100 / 1000.0 * sample_rate)
    hop = int(10 / 1000.0 * sample_rate)
    spec = torch.stft(
        torch.from_numpy(np.asarray(samples, dtype=np.float32)),
        n_fft=n_fft,
        hop_length=hop,
        win_length=win,
        window=torch.hann_window(win),
        center=True,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    amplitudes = spec.abs().numpy()  # (channels, freqs, frames)
    fb = htk_filterbank(
        n_freqs=n_fft // 2 + 1, f_min=f_min, f_max=f_max, n_mels=n_mels, sample_rate=sample_rate
    )
    mel = np.matmul(amplitudes.transpose(0, 2, 1), fb).transpose(0, 2, 1)  # (ch, mels, frames)
    data = mel / np.max(mel)
    data = np.power(data, power) * 255
    data = (255 - data).astype(np.uint8)
    if data.shape[0] == 1:
        image = Image.fromarray(data[0], mode="L").convert("RGB")
    else:
        rgb = np.array([np.zeros_like(data[0]), data[0], data[1]]).transpose(1, 2, 0)
        image = Image.fromarray(rgb, mode="RGB")
    return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
