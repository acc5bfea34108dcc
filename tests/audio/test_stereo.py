"""Stereo decoding keeps the channels coherent (issue 13.5): one shared phase per recording."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from riffgen.audio import SpectrogramParams, audio_to_image, image_to_audio
from riffgen.audio.image import mel_from_image
from riffgen.audio.phase import reconstruct

from .conftest import music


def _panned_mix(seconds: float) -> np.ndarray:
    """Two sources amplitude-panned apart plus a little anti-phase noise (L/R corr ~0.86)."""
    a = music(seconds, seed=1)[0]
    b = music(seconds, channels=2, seed=2)[1]
    noise = 0.01 * np.random.default_rng(3).standard_normal(a.size).astype(np.float32)
    return np.stack([0.9 * a + 0.4 * b + noise, 0.5 * a + 0.9 * b - noise]).astype(np.float32)


def _corr(x: np.ndarray) -> float:
    return float(np.corrcoef(x[0], x[1])[0, 1])


def _mono_loss_db(x: np.ndarray) -> float:
    """Level of the mono mix re the channels' mean power, dB (0 = fully coherent)."""
    return float(10 * np.log10(np.mean(x.mean(axis=0) ** 2) / np.mean(x**2)))


@pytest.mark.parametrize("decoder", ["griffin-lim", "vocoder"])
def test_stereo_round_trip_keeps_channel_correlation_and_balance(decoder: str) -> None:
    """The shipped vocoder too: its channels share the phase it gives their mean (decoded
    apart, a real stereo clip's correlation fell from 0.71 to 0.13)."""
    source = _panned_mix(1.0)
    source[1] *= 0.5  # a quieter right channel must stay quieter
    params = SpectrogramParams(stereo=True, num_griffin_lim_iters=16)
    image = audio_to_image(source, 44100, params)
    audio, _ = image_to_audio(image, seed=0, decoder=decoder)
    assert abs(_corr(audio) - _corr(source)) < 0.1, (_corr(audio), _corr(source))
    assert abs(_mono_loss_db(audio) - _mono_loss_db(source)) < 1.0

    def balance(x: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(x[1] ** 2) / np.mean(x[0] ** 2)))

    assert abs(balance(audio) - balance(source)) < 1.0, (balance(audio), balance(source))


def test_linking_changes_nothing_for_mono() -> None:
    params = SpectrogramParams(num_griffin_lim_iters=4)
    mel = torch.from_numpy(mel_from_image(audio_to_image(music(0.3), 44100, params), params))
    plain = reconstruct(mel, params, generator=torch.Generator().manual_seed(0))
    linked = reconstruct(
        mel, params, generator=torch.Generator().manual_seed(0), linked_channels=True
    )
    assert torch.equal(plain, linked)
