"""Joined interpolation clips: one level across the joins, no visible seam in the image."""

from __future__ import annotations

import numpy as np

from riffgen.audio import SpectrogramParams, audio_to_image
from riffgen.diffusion.types import RiffgenOutput
from riffgen.endless.stitch import join_outputs

SR = 44100


def _clip(freq: float, crest: float, seconds: float = 2.0, seed: int = 0) -> RiffgenOutput:
    """A peak-normalised tone + noise; ``crest`` sets how quiet it is for its peak (as
    generated clips differ in RMS while each peaks at full scale)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    audio = np.sin(2 * np.pi * freq * t) + 0.2 * rng.standard_normal(t.size)
    audio[rng.integers(0, t.size, 20)] *= crest  # a few peaks set the normalisation
    audio = (audio / np.abs(audio).max() * 0.99).astype(np.float32)[None]
    params = SpectrogramParams()
    return RiffgenOutput(audio=audio, sample_rate=SR, image=audio_to_image(audio, SR, params))


def _rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(x**2)))


def test_successive_clips_within_one_db_at_the_joins():
    clips = [_clip(220, 1), _clip(330, 6, seed=1), _clip(262, 2, seed=2), _clip(196, 8, seed=3)]
    before = [_rms_db(c.audio) for c in clips]
    assert max(np.abs(np.diff(before))) > 6  # the clips step in level on their own
    out = join_outputs(clips)
    n = clips[0].audio.shape[1]
    half = SR // 2
    steps = []
    for k in range(1, len(clips)):
        seam = k * n - int((k - 0.5) * 0.02 * SR)
        steps.append(
            _rms_db(out.audio[0, seam - half : seam]) - _rms_db(out.audio[0, seam : seam + half])
        )
    assert max(abs(s) for s in steps) <= 1.0, steps
    assert np.abs(out.audio).max() <= 1.0
    assert out.image.width == audio_to_image(out.audio, SR).width


def test_join_columns_are_no_more_visible_than_others():
    clips = [_clip(220, 1), _clip(330, 6, seed=1), _clip(262, 2, seed=2)]
    out = join_outputs(clips)
    pixels = np.asarray(out.image.convert("L"), dtype=np.float64)
    jumps = np.abs(np.diff(pixels, axis=1)).mean(axis=0)
    width = clips[0].image.width
    for k in (1, 2):
        around = jumps[k * width - 4 : k * width + 4]
        assert around.max() <= np.percentile(jumps, 99.5), (around.max(), np.median(jumps))
