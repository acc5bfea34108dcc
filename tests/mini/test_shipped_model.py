"""The mini model shipped in the package: loads as ``--model mini`` and follows its prompt."""

from __future__ import annotations

import numpy as np
import pytest

from riffgen.diffusion import RiffgenPipeline
from riffgen.mini.shipped import is_complete, shipped_model_dir


@pytest.fixture(scope="module")
def mini():
    assert is_complete(shipped_model_dir()), "the mini weights should ship with the package"
    return RiffgenPipeline.from_pretrained("mini", device="cpu", dtype="fp32")


def _column_flux(image) -> float:
    """Mean absolute change between neighbouring columns: high for percussive spectrograms."""
    x = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    return float(np.abs(np.diff(x, axis=1)).mean())


def test_mini_generates_a_full_clip(mini):
    out = mini.text_to_audio("a calm piano melody", seed=0, num_inference_steps=8)
    assert out.image.size == (512, 128)
    assert out.audio.shape == (1, 511 * 441) and out.sample_rate == 44100
    rms = float(np.sqrt(np.mean(out.audio**2)))
    assert 20 * np.log10(rms) > -40  # music-level, not silence


def test_mini_follows_the_prompt(mini):
    # Same seed: only the text differs. A drum prompt gives more column-to-column change
    # (onsets) than sustained strings.
    drums = mini.text_to_audio("fast punk drum beat", seed=3, num_inference_steps=12)
    strings = mini.text_to_audio(
        "slow sustained violin and strings", seed=3, num_inference_steps=12
    )
    assert _column_flux(drums.image) > 1.2 * _column_flux(strings.image)
