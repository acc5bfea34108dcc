"""The public audio <-> image conversions."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from riffgen.audio.image import image_from_mel, mel_from_image, params_from_image
from riffgen.audio.io import resample
from riffgen.audio.params import SpectrogramParams
from riffgen.audio.spectrogram import griffin_lim_original, magnitude_from_mel, mel_spectrogram
from riffgen.errors import RiffgenError

PEAK_DBFS = -0.1


def _device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def audio_to_image(
    samples: np.ndarray, sample_rate: int, params: SpectrogramParams | None = None
) -> Image.Image:
    """Audio ``[channels, n]`` (or ``[n]``) at ``sample_rate`` Hz -> spectrogram image.

    Mono params downmix stereo input (mono input gives the original's exact image);
    stereo params duplicate mono input.
    """
    params = params or SpectrogramParams()
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[None]
    if samples.ndim != 2 or samples.shape[1] == 0:
        raise RiffgenError(f"expected audio shaped [channels, samples], got {samples.shape}")
    if not np.isfinite(samples).all():
        raise RiffgenError("audio contains NaN or infinite samples")
    if sample_rate != params.sample_rate:
        samples = resample(samples, sample_rate, params.sample_rate)
    if params.stereo:
        samples = samples[:2] if samples.shape[0] >= 2 else np.repeat(samples, 2, axis=0)
    elif samples.shape[0] > 1:
        samples = samples.mean(axis=0, keepdims=True)
    mel = mel_spectrogram(torch.from_numpy(samples), params)
    return image_from_mel(mel.numpy(), params)


def image_to_audio(
    image: Image.Image,
    params: SpectrogramParams | None = None,
    *,
    seed: int | None = None,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, int]:
    """Spectrogram image -> ``(samples float32 [channels, n], sample_rate)``.

    ``params`` defaults to the image's EXIF (or the original defaults). Images whose
    height differs from the mel count are resized along frequency. The audio lasts
    ``(width - 1) * step`` and peaks at -0.1 dBFS.
    """
    params = params or params_from_image(image)
    dev = _device(device)
    mel = mel_from_image(image, params)
    if mel.shape[1] != params.num_frequencies:
        mel = _resize_height(mel, params.num_frequencies)
    generator = torch.Generator(device=dev)
    generator.manual_seed(0 if seed is None else int(seed))
    mel_t = torch.from_numpy(mel).to(dev)
    magnitude = magnitude_from_mel(mel_t, params)
    wav = griffin_lim_original(
        magnitude, params, n_iter=params.num_griffin_lim_iters, generator=generator
    )
    wav = wav.cpu().numpy().astype(np.float32)
    peak = float(np.abs(wav).max()) if wav.size else 0.0
    if peak > 0:
        wav *= 10 ** (PEAK_DBFS / 20) / peak
    return wav, params.sample_rate


def _resize_height(mel: np.ndarray, height: int) -> np.ndarray:
    t = torch.from_numpy(mel)[None]
    out = torch.nn.functional.interpolate(t, size=(height, mel.shape[-1]), mode="bilinear", align_corners=False)
    return out[0].clamp_min(0).numpy()
