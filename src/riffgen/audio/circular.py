"""Circular (periodic) STFT and Griffin-Lim: spectrograms of signals that repeat.

Frame ``t`` is centred on sample ``t * hop`` and the signal wraps around, so an image
``W`` columns wide is exactly ``W * hop`` samples whose end leads into their start. Used to
decode seamless loops (``riffgen generate --loop``); :func:`loop_from_image` is the
image -> audio entry point, like :func:`riffgen.audio.image_to_audio` for ordinary clips.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from riffgen.audio.image import mel_from_image, params_from_image, resize_mel_height
from riffgen.audio.limits import check_image_size, check_iterations, check_work
from riffgen.audio.mix import normalize_peak
from riffgen.audio.params import SpectrogramParams
from riffgen.audio.spectrogram import magnitude_from_mel


def _window(params: SpectrogramParams, device: torch.device) -> torch.Tensor:
    """The analysis window zero-padded to ``n_fft``, centred, as torch.stft places it."""
    win = torch.hann_window(params.win_length, device=device)
    left = (params.n_fft - params.win_length) // 2
    return F.pad(win, (left, params.n_fft - params.win_length - left))


def circular_stft(x: torch.Tensor, params: SpectrogramParams) -> torch.Tensor:
    """STFT of a periodic signal ``(..., L)``, ``L = frames * hop`` -> ``(..., n_freqs, frames)``.

    Frame ``t`` is centred on sample ``t * hop``; samples before 0 / after L wrap around.
    """
    hop, n_fft = params.hop_length, params.n_fft
    length = x.shape[-1]
    half = n_fft // 2
    reps = -(-half // length)  # enough periods for the wrap when the loop is short
    tiled = torch.cat([x] * (2 * reps + 1), dim=-1)
    padded = tiled[..., reps * length - half : (reps + 1) * length + half]
    frames = length // hop
    spec = torch.stft(
        padded.reshape(-1, padded.shape[-1]),
        n_fft=n_fft,
        hop_length=hop,
        window=_window(params, x.device),
        center=False,
        return_complex=True,
    )[..., :frames]
    return spec.reshape(*x.shape[:-1], *spec.shape[-2:])


def _overlap_add(cols: torch.Tensor, *, hop: int, n_fft: int, frames: int) -> torch.Tensor:
    """Sum frames ``(B, n_fft, frames)`` into a periodic signal ``(B, frames * hop)``.

    Frame ``t`` sample ``k`` lands on signal index ``(t * hop + k - n_fft / 2) mod L``.
    """
    length = frames * hop
    batch = cols.shape[0]
    if n_fft % hop == 0 and (n_fft // 2) % hop == 0:
        # Blocks of ``hop`` samples: frame t's block j lands on block (t + j - half) mod frames,
        # so the overlap-add is a sum of rolled block planes (faster than fold).
        blocks = cols.reshape(batch, n_fft // hop, hop, frames)
        shift = (n_fft // 2) // hop
        acc = torch.zeros(batch, hop, frames, dtype=cols.dtype, device=cols.device)
        for j in range(blocks.shape[1]):
            acc += torch.roll(blocks[:, j], shifts=j - shift, dims=-1)
        return acc.transpose(1, 2).reshape(batch, length)
    span = (frames - 1) * hop + n_fft
    buf = F.fold(cols, output_size=(1, span), kernel_size=(1, n_fft), stride=(1, hop))
    buf = buf.reshape(batch, span)
    periods = -(-span // length)
    buf = F.pad(buf, (0, periods * length - span)).reshape(batch, periods, length)
    return torch.roll(buf.sum(dim=1), shifts=-(n_fft // 2), dims=-1)


@functools.lru_cache(maxsize=4)
def _window_norm(params: SpectrogramParams, frames: int, device: str) -> torch.Tensor:
    window = _window(params, torch.device(device))
    cols = (window**2)[None, :, None].expand(1, params.n_fft, frames).contiguous()
    norm = _overlap_add(cols, hop=params.hop_length, n_fft=params.n_fft, frames=frames)
    return norm.clamp_min(1e-8)


def circular_istft(spec: torch.Tensor, params: SpectrogramParams) -> torch.Tensor:
    """Least-squares inverse of :func:`circular_stft`: overlap-add wrapping around."""
    hop, n_fft = params.hop_length, params.n_fft
    frames = spec.shape[-1]
    window = _window(params, spec.device)
    flat = spec.reshape(-1, *spec.shape[-2:])
    chunks = torch.fft.irfft(flat, n=n_fft, dim=-2) * window[:, None]  # (B, n_fft, frames)
    signal = _overlap_add(chunks, hop=hop, n_fft=n_fft, frames=frames)
    out = signal / _window_norm(params, frames, str(spec.device))
    return out.reshape(*spec.shape[:-2], frames * hop)


def circular_griffin_lim(
    magnitude: torch.Tensor,
    params: SpectrogramParams,
    *,
    n_iter: int = 32,
    momentum: float = 0.99,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fast Griffin-Lim (same scheme as the original's) for a periodic signal.

    ``magnitude`` ``(..., n_freqs, frames)`` -> waveform ``(..., frames * hop)``.
    """
    n_iter = check_iterations(n_iter)
    check_work(params, columns=magnitude.shape[-1])
    angles = torch.rand(
        magnitude.shape, dtype=torch.complex64, device=magnitude.device, generator=generator
    )
    tprev = torch.zeros((), dtype=torch.complex64, device=magnitude.device)
    for _ in range(n_iter):
        rebuilt = circular_stft(circular_istft(magnitude * angles, params), params)
        angles = rebuilt - tprev * (momentum / (1 + momentum))
        angles = angles / (angles.abs() + 1e-16)
        tprev = rebuilt
    return circular_istft(magnitude * angles, params)


def loop_from_image(
    image: Image.Image,
    params: SpectrogramParams | None = None,
    *,
    seed: int = 0,
    n_iter: int | None = None,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, int]:
    """Spectrogram image -> one period of a seamless loop, ``(samples [channels, width * hop],
    sample_rate)``, peak at -0.1 dBFS.

    ``n_iter`` Griffin-Lim iterations (default ``params.num_griffin_lim_iters``); ``seed``
    makes the random initial phase reproducible. Repeat the result end to end (``np.tile``)
    for as long as you like.
    """
    check_image_size(image.width, image.height)  # before any pixel is decoded
    params = params or params_from_image(image)
    check_work(params, columns=image.width)
    mel = mel_from_image(image, params)
    if mel.shape[1] != params.num_frequencies:
        mel = resize_mel_height(mel, height=params.num_frequencies)
    magnitude = magnitude_from_mel(torch.from_numpy(mel).to(device), params)
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    iters = params.num_griffin_lim_iters if n_iter is None else n_iter
    wav = circular_griffin_lim(magnitude, params, n_iter=iters, generator=generator)
    return normalize_peak(wav.cpu().numpy().astype(np.float32)), params.sample_rate
