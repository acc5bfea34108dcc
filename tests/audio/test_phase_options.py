"""riffgen's phase recovery options: phase-gradient start and half-frame-rate iterations."""

from __future__ import annotations

import pytest
import torch

from riffgen.audio import SpectrogramParams, audio_to_image
from riffgen.audio.image import mel_from_image
from riffgen.audio.phase import PGHI_MULTIRATE, PhaseConfig, reconstruct
from riffgen.audio.spectrogram import spectral_convergence

from .conftest import music
from .test_stereo import _corr, _panned_mix

FAST = SpectrogramParams(num_griffin_lim_iters=8)


def _mel(seconds: float = 0.5, channels: int = 1) -> torch.Tensor:
    image = audio_to_image(
        music(seconds, channels=channels), 44100, FAST.replace(stereo=channels > 1)
    )
    return torch.from_numpy(mel_from_image(image, FAST.replace(stereo=channels > 1)))


def _decode(mel: torch.Tensor, config: PhaseConfig, seed: int = 0, **kw) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        return reconstruct(mel, FAST, generator=gen, config=config, **kw)


@pytest.mark.parametrize("config", [PGHI_MULTIRATE, PhaseConfig(init="pghi")])
def test_options_decode_deterministically_and_seeds_differ(config: PhaseConfig) -> None:
    mel = _mel()
    a = _decode(mel, config)
    assert a.shape == (1, (mel.shape[-1] - 1) * 441)
    assert torch.isfinite(a).all() and float(a.abs().max()) > 0
    assert torch.equal(a, _decode(mel, config))
    assert not torch.allclose(a, _decode(mel, config, seed=1))
    assert spectral_convergence(a, mel, FAST) < 0.3


def test_progress_counts_every_iteration_and_tiny_images_skip_the_half_rate_grid() -> None:
    mel = _mel()
    calls: list[tuple[int, int]] = []
    _decode(mel, PGHI_MULTIRATE, progress=lambda d, t: calls.append((d, t)))
    total = calls[-1][1]
    assert calls == [(i + 1, total) for i in range(total)]
    calls.clear()
    wav = _decode(mel[..., :3], PGHI_MULTIRATE, progress=lambda d, t: calls.append((d, t)))
    assert wav.shape == (1, 2 * 441)
    assert calls[-1][0] == calls[-1][1] < total


def test_linked_stereo_keeps_the_channel_correlation() -> None:
    source = _panned_mix(0.5)
    params = FAST.replace(stereo=True)
    mel = torch.from_numpy(mel_from_image(audio_to_image(source, 44100, params), params))
    with torch.inference_mode():
        wav = reconstruct(
            mel,
            params,
            generator=torch.Generator().manual_seed(0),
            config=PGHI_MULTIRATE,
            linked_channels=True,
        ).numpy()
    assert abs(_corr(wav) - _corr(source)) < 0.1, (_corr(wav), _corr(source))
