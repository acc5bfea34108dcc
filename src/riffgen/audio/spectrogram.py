"""Audio <-> mel magnitude spectrogram, in plain torch (batched, runs on CPU or CUDA)."""

from __future__ import annotations

import torch

from riffgen.audio.limits import check_iterations, check_work
from riffgen.audio.mel import filterbank_for, inverse_filterbank_for
from riffgen.audio.params import SpectrogramParams


def _window(params: SpectrogramParams, device: torch.device) -> torch.Tensor:
    return torch.hann_window(params.win_length, device=device)


def stft(waveform: torch.Tensor, params: SpectrogramParams) -> torch.Tensor:
    """Complex STFT of ``waveform`` ``(..., samples)`` -> ``(..., n_freqs, frames)``.

    Hann window, centre=True with reflect padding, one-sided: the original's settings.
    """
    shape = waveform.shape
    flat = waveform.reshape(-1, shape[-1])
    if flat.shape[-1] <= params.n_fft // 2:
        # Reflect padding needs more samples than half an FFT; zero-pad very short input.
        flat = torch.nn.functional.pad(flat, (0, params.n_fft // 2 + 1 - flat.shape[-1]))
    spec = torch.stft(
        flat,
        n_fft=params.n_fft,
        hop_length=params.hop_length,
        win_length=params.win_length,
        window=_window(params, flat.device),
        center=True,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    return spec.reshape(*shape[:-1], *spec.shape[-2:])


def istft(spec: torch.Tensor, params: SpectrogramParams, length: int) -> torch.Tensor:
    """Inverse of :func:`stft`, ``(..., n_freqs, frames)`` -> ``(..., length)``."""
    shape = spec.shape
    flat = spec.reshape(-1, *shape[-2:])
    wav = torch.istft(
        flat,
        n_fft=params.n_fft,
        hop_length=params.hop_length,
        win_length=params.win_length,
        window=_window(params, flat.device),
        center=True,
        normalized=False,
        onesided=True,
        length=length,
    )
    return wav.reshape(*shape[:-2], wav.shape[-1])


def mel_from_magnitude(magnitude: torch.Tensor, params: SpectrogramParams) -> torch.Tensor:
    """Linear magnitudes ``(..., n_freqs, frames)`` -> mel ``(..., n_mels, frames)``."""
    fb = filterbank_for(params, magnitude.device)
    return torch.matmul(fb.T, magnitude)


def mel_spectrogram(waveform: torch.Tensor, params: SpectrogramParams) -> torch.Tensor:
    """Mel magnitude spectrogram (power 1) of ``(..., samples)`` -> ``(..., n_mels, frames)``."""
    return mel_from_magnitude(stft(waveform, params).abs(), params)


def magnitude_from_mel(mel: torch.Tensor, params: SpectrogramParams) -> torch.Tensor:
    """Least-squares linear magnitude (clamped >= 0) of a mel spectrogram."""
    pinv = inverse_filterbank_for(params, mel.device)
    return torch.relu(torch.matmul(pinv, mel))


def griffin_lim_original(
    magnitude: torch.Tensor,
    params: SpectrogramParams,
    *,
    n_iter: int,
    momentum: float = 0.99,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The original Riffusion phase recovery (torchaudio's GriffinLim), for reference.

    Random complex initialisation (uniform real and imaginary parts, as torchaudio draws
    it), ``n_iter`` fast Griffin-Lim iterations with ``momentum``.
    """
    n_iter = check_iterations(n_iter)
    check_work(params, columns=magnitude.shape[-1])
    length = params.num_samples(magnitude.shape[-1])
    # Drawn where the generator lives (a CPU generator gives the same phase on every device).
    gen_device = generator.device if generator is not None else magnitude.device
    angles = torch.rand(
        magnitude.shape, dtype=torch.complex64, device=gen_device, generator=generator
    ).to(magnitude.device)
    tprev = torch.zeros((), dtype=torch.complex64, device=magnitude.device)
    for _ in range(n_iter):
        inverse = istft(magnitude * angles, params, length)
        rebuilt = stft(inverse, params)
        angles = rebuilt - tprev * (momentum / (1 + momentum))
        angles = angles / (angles.abs() + 1e-16)
        tprev = rebuilt
    return istft(magnitude * angles, params, length)


def spectral_convergence(
    waveform: torch.Tensor, target_mel: torch.Tensor, params: SpectrogramParams
) -> float:
    """‖mel(waveform)·a − target‖ / ‖target‖ with the best scale ``a`` (lower is better)."""
    mel = mel_spectrogram(waveform.float(), params)
    frames = min(mel.shape[-1], target_mel.shape[-1])
    mel, target = mel[..., :frames].flatten(), target_mel[..., :frames].flatten().float()
    scale = torch.dot(mel, target) / torch.dot(mel, mel).clamp_min(1e-20)
    return float(
        torch.linalg.vector_norm(mel * scale - target)
        / torch.linalg.vector_norm(target).clamp_min(1e-20)
    )
