"""Tempo seeds: text-to-audio of a prompt that names its BPM starts from a beat at it."""

from __future__ import annotations

import numpy as np
import pytest

from riffgen.audio import SpectrogramParams
from riffgen.diffusion.tempo_seed import TEMPO_SEED_DENOISING, named_bpm, tempo_seed_image
from riffgen.evaluation.features import mel_from_clip_image
from riffgen.evaluation.tempo import (
    autocorrelation,
    estimate_tempo_from_mel,
    onset_envelope,
)

FAST = {"num_inference_steps": 2, "width": 32}


def test_only_a_stated_number_is_a_tempo():
    assert named_bpm("jazz piano trio at 96 BPM") == 96.0
    assert named_bpm("techno, 128.5 beats per minute") == 128.5
    assert named_bpm("fast punk drum beat with distorted guitar") is None  # words don't count
    assert named_bpm("drums at 900 bpm") == 240.0  # clamped like the tempo token


@pytest.mark.parametrize("bpm", [84.0, 96.0, 150.0])
def test_the_seed_beats_at_the_asked_tempo_in_the_models_format(bpm):
    for params in (SpectrogramParams(), SpectrogramParams(num_frequencies=128)):
        image = tempo_seed_image(bpm, params, width=512)
        assert image.size == (512, params.num_frequencies)
        mel = mel_from_clip_image(image)
        # Onsets repeat at the beat period: the autocorrelation peaks there (within 3 %).
        acf = autocorrelation(onset_envelope(mel))
        period = 6000.0 / bpm  # frames of 10 ms
        window = acf[int(period * 0.97) : int(np.ceil(period * 1.03)) + 1]
        assert (
            window.max() > 0.3 and window.max() == acf[int(period * 0.8) : int(period * 1.2)].max()
        )
        if bpm >= 92:  # a bare backbeat at 64-91 BPM can read at double tempo (2-beat loop)
            assert estimate_tempo_from_mel(mel) == pytest.approx(bpm, rel=0.03), bpm


def test_text_to_audio_starts_from_the_beat_only_when_the_prompt_names_it(debug_pipeline):
    pipe = debug_pipeline
    seeded = pipe.text_to_audio("drum beat at 96 bpm", seed=3, **FAST)
    assert seeded.parameters["mode"] == "text_to_audio"
    assert seeded.parameters["tempo_seed_bpm"] == 96.0
    assert seeded.parameters["denoising"] == TEMPO_SEED_DENOISING
    assert seeded.image.width == 32
    again = pipe.text_to_audio("drum beat at 96 bpm", seed=3, **FAST)
    np.testing.assert_array_equal(seeded.audio, again.audio)  # deterministic
    plain = pipe.text_to_audio("drum beat at 96 bpm", seed=3, tempo_seed=False, **FAST)
    assert "tempo_seed_bpm" not in plain.parameters
    assert not np.array_equal(plain.audio, seeded.audio)
    words = pipe.text_to_audio("fast drum beat", seed=3, **FAST)
    assert "tempo_seed_bpm" not in words.parameters
    # A duration cuts the seeded clip like any other.
    short = pipe.text_to_audio("drum beat at 96 bpm", seed=3, duration_s=0.2, num_inference_steps=2)
    assert short.audio.shape[-1] == round(0.2 * short.sample_rate)
    assert short.parameters["duration_s"] == 0.2
