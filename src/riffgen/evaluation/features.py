"""Fixed-size features of a clip, computed from what its spectrogram image carries.

Audio is first encoded as a Riffusion image (8-bit, power 0.25) and decoded back, so a
real render and a model's generated image are described by exactly the same pipeline:
the classifier cannot exploit detail that generated images never have.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from PIL import Image

from riffgen.audio import SpectrogramParams, audio_to_image
from riffgen.audio.image import mel_from_image, params_from_image

N_BANDS = 64
FLOOR_DB = -80.0
FEATURE_VERSION = "logmel64-stats-v1"


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (restored after).

    The features and the classifier are tiny; on a shared 2-core machine a second
    thread only adds contention (measured 2x slower features, 7x slower training).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def mel_from_audio(
    audio: np.ndarray, sample_rate: int, params: SpectrogramParams | None = None
) -> np.ndarray:
    """Audio ``[n]`` or ``[channels, n]`` -> mel magnitudes ``(n_mels, frames)`` via the image."""
    params = params or SpectrogramParams()
    return mel_from_clip_image(audio_to_image(audio, sample_rate, params))


def mel_from_clip_image(image: Image.Image) -> np.ndarray:
    """Spectrogram image -> mel magnitudes ``(n_mels, frames)``, max 1 (mono / channel mean)."""
    params = params_from_image(image)
    mel = mel_from_image(image, params).mean(axis=0)
    peak = float(mel.max())
    return mel / peak if peak > 0 else mel


def log_bands(mel: np.ndarray, *, n_bands: int = N_BANDS) -> np.ndarray:
    """Mel ``(n_mels, frames)`` -> dB ``(n_bands, frames)``, pooled in equal mel groups."""
    n_mels, frames = mel.shape
    edges = np.linspace(0, n_mels, n_bands + 1).astype(int)
    pooled = np.stack([mel[a:b].mean(axis=0) for a, b in zip(edges[:-1], edges[1:], strict=True)])
    return np.maximum(20 * np.log10(np.maximum(pooled, 1e-12)), FLOOR_DB).astype(np.float32)


def features_from_mel(mel: np.ndarray) -> np.ndarray:
    """Per-band mean, spread (std), 90th percentile and mean absolute change over time.

    Level-invariant (the mel is max-normalised), ``4 * N_BANDS`` float32 values.
    """
    mel = np.asarray(mel, dtype=np.float32)
    peak = float(mel.max())
    if peak > 0:
        mel = mel / peak
    bands = log_bands(mel)
    delta = np.abs(np.diff(bands, axis=1)) if bands.shape[1] > 1 else np.zeros_like(bands)
    return np.concatenate(
        [
            bands.mean(axis=1),
            bands.std(axis=1),
            np.percentile(bands, 90, axis=1),
            delta.mean(axis=1),
        ]
    ).astype(np.float32)


def features_from_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Feature vector of audio ``[n]`` or ``[channels, n]`` at ``sample_rate`` Hz."""
    return features_from_mel(mel_from_audio(audio, sample_rate))


def features_from_image(image: Image.Image) -> np.ndarray:
    """Feature vector of a spectrogram image (real or generated)."""
    return features_from_mel(mel_from_clip_image(image))
