"""Seamless loops: clips whose end flows into their start when repeated.

Two parts, both circular along time (the image width):

1. :func:`circular_width` makes every padded ``Conv2d`` of the UNet and VAE pad the width
   circularly and the height (frequency) with zeros, so the generated spectrogram wraps
   around: column ``W-1`` continues into column 0 (attention and group norm have no edges).
   ``Conv2d(padding_mode="circular")`` would wrap the frequency axis too, hence the wrapper.
2. :func:`loop_audio` decodes the image with a circular Griffin-Lim (STFT of a periodic
   signal, overlap-add wrapping around), giving exactly ``W * hop`` samples that repeat
   without a seam. The ordinary decode has edges: its last sample does not lead into its first.

``make_loop(pipe, prompt, ...)`` does both for ``generate --loop``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from riffgen.audio.image import mel_from_image, params_from_image
from riffgen.audio.params import SpectrogramParams
from riffgen.audio.spectrogram import magnitude_from_mel
from riffgen.diffusion.types import RiffgenOutput

PEAK_DBFS = -0.1


# ---------------------------------------------------------------------- circular convolutions


def _circular_width_conv(
    conv: torch.nn.Conv2d, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    pad_h, pad_w = conv._riffgen_padding  # type: ignore[attr-defined]
    if pad_w:
        input = F.pad(input, (pad_w, pad_w, 0, 0), mode="circular")
    if pad_h:
        input = F.pad(input, (0, 0, pad_h, pad_h), mode="constant", value=0.0)
    return F.conv2d(input, weight, bias, conv.stride, 0, conv.dilation, conv.groups)


def _patchable(module: torch.nn.Module) -> bool:
    return (
        isinstance(module, torch.nn.Conv2d)
        and isinstance(module.padding, tuple)
        and module.padding_mode == "zeros"
        and any(module.padding)
        and not hasattr(module, "_riffgen_padding")
    )


@contextlib.contextmanager
def circular_width(*models: torch.nn.Module | None) -> Iterator[int]:
    """Within the block, every zero-padded ``Conv2d`` in ``models`` wraps along width.

    Yields the number of convolutions patched; restores them on exit (also on error).
    """
    patched: list[torch.nn.Conv2d] = []
    try:
        for model in models:
            if model is None:
                continue
            for module in model.modules():
                if _patchable(module):
                    module._riffgen_padding = tuple(module.padding)  # type: ignore[attr-defined]
                    module._conv_forward = functools.partial(_circular_width_conv, module)  # type: ignore[method-assign]
                    patched.append(module)
        yield len(patched)
    finally:
        for module in patched:
            del module._conv_forward
            del module._riffgen_padding


# --------------------------------------------------------------------- circular Griffin-Lim


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
    """Fast Griffin-Lim (same scheme as the original's) for a periodic signal."""
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


def loop_audio(
    image: Image.Image,
    params: SpectrogramParams | None = None,
    *,
    seed: int = 0,
    n_iter: int | None = None,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, int]:
    """Spectrogram image -> one period of a seamless loop, ``width * hop`` samples.

    Repeat the result end to end (``np.tile``) for as long as you like.
    """
    params = params or params_from_image(image)
    mel = mel_from_image(image, params)
    if mel.shape[1] != params.num_frequencies:
        t = torch.from_numpy(mel)[None]
        mel = F.interpolate(t, size=(params.num_frequencies, mel.shape[-1]), mode="bilinear")[0]
        mel = mel.clamp_min(0).numpy()
    magnitude = magnitude_from_mel(torch.from_numpy(mel).to(device), params)
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    iters = params.num_griffin_lim_iters if n_iter is None else n_iter
    wav = circular_griffin_lim(magnitude, params, n_iter=iters, generator=generator)
    wav = wav.cpu().numpy().astype(np.float32)
    peak = float(np.abs(wav).max()) if wav.size else 0.0
    if peak > 0:
        wav *= 10 ** (PEAK_DBFS / 20) / peak
    return wav, params.sample_rate


def make_loop(pipe: Any, prompt: str, **text_to_audio_kwargs: Any) -> RiffgenOutput:
    """``pipe.text_to_audio`` with circular convolutions, decoded as a seamless loop.

    The returned audio is one period (``width * hop`` samples, e.g. 5.12 s for 512 columns);
    ``parameters["loop"]`` is True.
    """
    with circular_width(pipe.unet, pipe.vae):
        out = pipe.text_to_audio(prompt, **text_to_audio_kwargs)
    return as_loop(out, pipe.spectrogram_params)


def as_loop(out: RiffgenOutput, params: SpectrogramParams | None = None) -> RiffgenOutput:
    """Re-decode a generated clip's image as a seamless loop (the image should wrap: make it
    under :func:`circular_width`)."""
    seed = int(out.parameters.get("seed", 0) or 0) if isinstance(out.parameters, dict) else 0
    audio, sr = loop_audio(out.image, params, seed=seed)
    parameters = {**(out.parameters or {}), "loop": True}
    return RiffgenOutput(audio=audio, sample_rate=sr, image=out.image, parameters=parameters)
