"""riffgen's phase recovery options: phase-gradient start and half-frame-rate iterations."""

from __future__ import annotations

import math

import pytest
import torch

from riffgen.audio import SpectrogramParams, audio_to_image
from riffgen.audio.image import mel_from_image
from riffgen.audio.phase import RANDOM_COARSE_FINE, PhaseConfig, reconstruct, resample, work_params
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


@pytest.mark.parametrize("config", [PhaseConfig(), RANDOM_COARSE_FINE])
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
    _decode(mel, PhaseConfig(), progress=lambda d, t: calls.append((d, t)))
    total = calls[-1][1]
    assert calls == [(i + 1, total) for i in range(total)]
    calls.clear()
    wav = _decode(mel[..., :3], PhaseConfig(), progress=lambda d, t: calls.append((d, t)))
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
            config=PhaseConfig(),
            linked_channels=True,
        ).numpy()
    assert abs(_corr(wav) - _corr(source)) < 0.1, (_corr(wav), _corr(source))


def test_the_phase_is_solved_at_the_lowest_rate_that_holds_the_band() -> None:
    assert work_params(SpectrogramParams()).sample_rate == 24000
    assert work_params(SpectrogramParams(num_frequencies=128)).sample_rate == 24000
    # Nothing lower holds a 20 kHz band at 44.1 kHz: solved at the image's own rate.
    full = SpectrogramParams(max_frequency=20000)
    assert work_params(full) == full
    # At 22.05 kHz a 10 ms hop is 220 samples (9.98 ms): no other rate has it, so none is used.
    odd = SpectrogramParams(sample_rate=22050, max_frequency=8000)
    assert work_params(odd) == odd
    assert work_params(SpectrogramParams(sample_rate=48000)).sample_rate == 24000
    # Resampling keeps a band-limited tone's level and frequency, edges included.
    t = torch.arange(24000) / 24000
    tone = torch.sin(2 * torch.pi * 1000 * t)[None]
    out = resample(tone, 44100)[0]
    want = torch.sin(2 * torch.pi * 1000 * torch.arange(44100) / 44100)
    assert float((out - want).abs().max()) < 0.02


def test_decoding_at_the_lower_rate_matches_the_full_rate_decode(monkeypatch) -> None:
    import riffgen.audio.phase as phase

    mel = _mel()
    low = _decode(mel, PhaseConfig())
    monkeypatch.setattr(phase, "work_params", lambda params: params)  # solve at 44.1 kHz
    full = _decode(mel, PhaseConfig())
    assert low.shape == full.shape
    level = float(low.square().mean().sqrt() / full.square().mean().sqrt())
    assert 0.97 < level < 1.03, level
    assert spectral_convergence(low, mel, FAST) < 1.1 * spectral_convergence(full, mel, FAST)


@pytest.mark.parametrize("f0", [110.0, 223.3, 1234.5])
def test_a_held_tone_comes_back_in_tune(f0: float) -> None:
    params = SpectrogramParams()
    t = torch.arange(201 * 441) / 44100
    tone = (0.3 * torch.sin(2 * torch.pi * f0 * t)).numpy()
    mel = torch.from_numpy(mel_from_image(audio_to_image(tone, 44100, params), params))
    with torch.inference_mode():
        wav = reconstruct(mel, params, generator=torch.Generator().manual_seed(0))[0]
    seg = wav[4410:-4410].double()
    n = 1 << 21
    spec = torch.fft.rfft(seg * torch.hann_window(seg.numel(), dtype=torch.float64), n).abs()
    lo, hi = int(f0 * 0.97 * n / 44100), int(f0 * 1.03 * n / 44100)
    found = (lo + int(spec[lo:hi].argmax())) * 44100 / n
    assert abs(1200 * math.log2(found / f0)) < 3.0, found  # a few cents: inaudible
