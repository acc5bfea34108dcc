"""The public audio <-> image conversions."""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real

import numpy as np
import torch
from PIL import Image

from riffgen.audio.decoders import (
    ALGORITHM_DECODERS,
    DECODERS,
    DEFAULT_DECODER,
    check_decoder,
)
from riffgen.audio.image import (
    image_from_mel,
    mel_from_image,
    params_from_image,
    resize_mel_height,
)
from riffgen.audio.io import resample
from riffgen.audio.limits import check_duration, check_image_size, check_work
from riffgen.audio.mix import PEAK_DBFS, normalize_peak
from riffgen.audio.params import SpectrogramParams
from riffgen.audio.phase import reconstruct
from riffgen.audio.spectrogram import griffin_lim_original, magnitude_from_mel, mel_spectrogram
from riffgen.audio.vocoder import say_once, vocode_or_none, vocoder_problem
from riffgen.errors import RiffgenError

ALGORITHMS = tuple(ALGORITHM_DECODERS)
# ``decoder=`` names (riffgen.audio.decoders): "griffin-lim" is riffgen's fast phase recovery
# (algorithm "riffgen"); DEFAULT_DECODER is what every command and the server use by default.
__all__ = [
    "ALGORITHMS",
    "DECODERS",
    "DEFAULT_DECODER",
    "PEAK_DBFS",
    "audio_to_image",
    "image_to_audio",
    "normalize_peak",
    "resolve_decoder",
]


def _device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def audio_to_image(
    samples: np.ndarray,
    sample_rate: int,
    params: SpectrogramParams | None = None,
    *,
    device: str | torch.device | None = "cpu",
) -> Image.Image:
    """Audio ``[channels, n]`` (or ``[n]``) at ``sample_rate`` Hz -> spectrogram image.

    The image is ``1 + n // hop`` columns wide (one per 10 ms by default) and
    ``params.num_frequencies`` rows high, with the parameters in its EXIF.
    Mono params downmix stereo input (mono input gives the original's exact image);
    stereo params duplicate mono input. ``device`` defaults to the CPU, where the result
    is bit-compatible with the original; ``None`` picks CUDA when available.
    """
    params = params or SpectrogramParams()
    if not isinstance(sample_rate, Real) or not math.isfinite(sample_rate) or sample_rate <= 0:
        raise RiffgenError(f"sample rate must be a positive number of Hz, got {sample_rate}")
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[None]
    if samples.ndim != 2 or samples.shape[1] == 0:
        raise RiffgenError(f"expected audio shaped [channels, samples], got {samples.shape}")
    # Bounds the resampled copy and the STFT; longer audio needs several images.
    check_duration(samples.shape[1] / sample_rate, what="audio for one image")
    resampled = math.ceil(samples.shape[1] * params.sample_rate / sample_rate)
    check_work(params, columns=1 + resampled // params.hop_length)
    if not np.isfinite(samples).all():
        raise RiffgenError("audio contains NaN or infinite samples")
    if sample_rate != params.sample_rate:
        samples = resample(samples, sample_rate, params.sample_rate)
    if params.stereo:
        samples = samples[:2] if samples.shape[0] >= 2 else np.repeat(samples, 2, axis=0)
    elif samples.shape[0] > 1:
        samples = samples.mean(axis=0, keepdims=True)
    with torch.inference_mode():
        mel = mel_spectrogram(torch.from_numpy(samples).to(_device(device)), params)
    return image_from_mel(mel.cpu().numpy(), params)


def resolve_decoder(decoder: str | None, params: SpectrogramParams) -> str:
    """The decoder that will decode images with ``params`` when ``decoder`` is asked for
    (None: :data:`DEFAULT_DECODER`): ``"vocoder"`` becomes ``"griffin-lim"`` when its weights
    are unusable or it was not trained for the format, said once on stderr. Unknown names
    raise :class:`RiffgenError`."""
    decoder = check_decoder(DEFAULT_DECODER if decoder is None else decoder)
    if decoder == "vocoder":
        problem = vocoder_problem(params)
        if problem is not None:
            say_once(f"riffgen: {problem}; using Griffin-Lim instead")
            return "griffin-lim"
    return decoder


def image_to_audio(
    image: Image.Image,
    params: SpectrogramParams | None = None,
    *,
    seed: int | None = None,
    device: str | torch.device | None = None,
    algorithm: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    decoder: str | None = None,
) -> tuple[np.ndarray, int]:
    """Spectrogram image (or any picture) -> ``(samples float32 [channels, n], sample_rate)``.

    ``params`` defaults to the image's EXIF (or the original defaults). Images whose height
    differs from the mel count are resampled along frequency; transparent pixels are silence.
    The audio lasts ``(width - 1) * step`` and peaks at -0.1 dBFS (silence stays silent).

    ``decoder`` (default :data:`DEFAULT_DECODER`) is ``"griffin-lim"`` (riffgen's fast
    coarse-to-fine phase recovery), ``"original"`` (least-squares magnitude + Griffin-Lim, as
    Riffusion did) or ``"vocoder"``: riffgen's neural vocoder (:mod:`riffgen.audio.vocoder`,
    deterministic, one network pass). When its weights are unusable or the image is in a
    format it was not trained for, it says why once on stderr and uses ``"griffin-lim"``.
    ``algorithm`` is the older spelling: ``"riffgen"`` (= griffin-lim) or ``"original"``.

    ``params.num_griffin_lim_iters`` sets the Griffin-Lim iteration budget; ``seed`` makes the
    random initial phase reproducible (same seed, same audio). ``progress(done, total)`` is
    called after every iteration (once for the vocoder).
    """
    # Everything below is sized by these: check them before any pixel is decoded.
    check_image_size(image.width, image.height)
    params = params or params_from_image(image)
    if image.width < 2:
        raise RiffgenError(
            f"image is {image.width} column wide: at least 2 columns are needed for any audio"
        )
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise RiffgenError(f"unknown algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}")
    if decoder is None:
        decoder = DEFAULT_DECODER if algorithm is None else ALGORITHM_DECODERS[algorithm]
    decoder = check_decoder(decoder)
    check_work(params, columns=image.width)
    if decoder == "vocoder":
        decoder = resolve_decoder(decoder, params)
    dev = _device(device)
    mel = mel_from_image(image, params)
    if mel.shape[1] != params.num_frequencies:
        mel = resize_mel_height(mel, height=params.num_frequencies)
    # Random numbers come from a CPU generator so a seed gives the same audio on every device.
    generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
    mel_t = torch.from_numpy(mel).to(dev)
    with torch.inference_mode():
        wav = vocode_or_none(mel_t, params) if decoder == "vocoder" else None
        if wav is not None:
            if progress is not None:
                progress(1, 1)
        elif decoder == "original":
            magnitude = magnitude_from_mel(mel_t, params)
            wav = griffin_lim_original(
                magnitude, params, n_iter=params.num_griffin_lim_iters, generator=generator
            )
        else:
            wav = reconstruct(
                mel_t,
                params,
                generator=generator,
                progress=progress,
                linked_channels=params.stereo,
            )
    wav = wav.float().cpu().numpy()
    return normalize_peak(wav), params.sample_rate
