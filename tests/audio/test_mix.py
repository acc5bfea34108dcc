"""Level and mixing helpers (riffgen.audio.mix)."""

from __future__ import annotations

import numpy as np
import pytest

from riffgen.audio import crossfade_gains, join, limit_peak, normalize_peak
from riffgen.audio.mix import PEAK_DBFS, crossfade, level_gains
from riffgen.errors import RiffgenError


def _legacy_interpolate_join(clips: list[np.ndarray], fade: int) -> np.ndarray:
    """The clip join ``riffgen interpolate`` used before riffgen.audio.mix (kept as reference)."""
    audio = clips[0]
    for nxt in clips[1:]:
        n = min(fade, audio.shape[1], nxt.shape[1])
        t = np.linspace(0.0, np.pi / 2, n, dtype=np.float32)
        mixed = audio[:, audio.shape[1] - n :] * np.cos(t) + nxt[:, :n] * np.sin(t)
        audio = np.concatenate([audio[:, : audio.shape[1] - n], mixed, nxt[:, n:]], axis=1)
    peak = float(np.abs(audio).max())
    return (audio / peak if peak > 1.0 else audio).astype(np.float32)


@pytest.mark.parametrize("fade", [0, 1, 882, 5000])
def test_join_reproduces_the_interpolate_join_bit_for_bit(fade: int) -> None:
    rng = np.random.default_rng(fade)
    clips = [rng.standard_normal((2, n)).astype(np.float32) for n in (3000, 700, 4000)]
    joined = join(clips, crossfade_samples=fade, grid="endpoints", match_power=False)
    assert np.array_equal(limit_peak(joined), _legacy_interpolate_join(clips, fade))


def test_gains_keep_power_for_the_given_correlation() -> None:
    for rho in (0.0, 0.5, 1.0):
        out, inn = crossfade_gains(256, correlation=rho)
        power = out.astype(np.float64) ** 2 + inn**2 + 2 * rho * out * inn
        assert np.allclose(power, 1.0, atol=1e-6)
    out, inn = crossfade_gains(5, curve="linear", grid="endpoints")
    assert out.tolist() == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert np.array_equal(out + inn, np.ones(5, np.float32))


def test_crossfade_of_a_signal_with_itself_keeps_it() -> None:
    x = np.sin(np.linspace(0, 40, 1000, dtype=np.float32))[None]
    assert np.allclose(crossfade(x, x), x, atol=1e-6)


def test_normalize_and_limit_peak() -> None:
    x = np.array([[0.1, -0.5, 0.25]], dtype=np.float32)
    assert np.isclose(np.abs(normalize_peak(x)).max(), 10 ** (PEAK_DBFS / 20))
    assert not normalize_peak(np.zeros(4)).any()
    assert np.array_equal(limit_peak(x), x)
    assert np.abs(limit_peak(x * 4)).max() == pytest.approx(1.0)


def test_bad_arguments_raise_riffgen_error() -> None:
    with pytest.raises(RiffgenError, match="curve"):
        crossfade_gains(4, curve="s-shape")  # type: ignore[arg-type]
    with pytest.raises(RiffgenError, match="no clips"):
        join([], crossfade_samples=4)
    with pytest.raises(RiffgenError, match="unequal"):
        crossfade(np.zeros((1, 3)), np.zeros((1, 4)))


def _level_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2))))


def test_level_matched_join_has_no_level_steps_between_clips() -> None:
    """Clips normalised one by one (as every decode is) step in level at the joins; matching
    their levels and normalising the joined result once keeps successive clips within 1 dB."""
    sr, clip_n, fade = 8000, 8000, 160
    t = np.arange(5 * clip_n) / sr
    song = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.2 * np.sin(2 * np.pi * 0.3 * t)))[None]
    for k, amp in enumerate([0.0, 1.0, 0.3, 1.5, 0.5]):  # a different transient in each clip
        song[0, k * clip_n + 4000] += amp
    starts = [max(0, k * clip_n - fade) for k in range(5)]
    clips = [normalize_peak(song[:, s : (k + 1) * clip_n]) for k, s in enumerate(starts)]

    def steps(audio: np.ndarray) -> list[float]:
        """Level differences between successive clips' stretches of the joined audio (dB)."""
        levels = [_level_db(audio[:, s + fade : s + clip_n - fade]) for s in starts]
        return [abs(a - b) for a, b in zip(levels, levels[1:], strict=False)]

    plain = join(clips, crossfade_samples=fade)
    matched = normalize_peak(join(clips, crossfade_samples=fade, match_levels=True))
    assert max(steps(plain)) > 6  # the problem: per-clip normalisation steps
    assert max(steps(matched)) < 1.0
    assert np.abs(matched).max() == pytest.approx(10 ** (PEAK_DBFS / 20), rel=1e-5)
    assert matched.shape == plain.shape


def test_level_gains_leave_silence_and_breaks_alone() -> None:
    loud, quiet = np.full((1, 100), 0.5, np.float32), np.full((1, 100), 1e-4, np.float32)
    gains = level_gains([loud, np.zeros((1, 100), np.float32), quiet])
    assert gains[1] == 1.0
    assert gains[2] == pytest.approx(10 ** (12 / 20))  # limited: a break stays quiet


def test_a_clip_meeting_its_neighbour_in_opposite_polarity_is_flipped_not_cancelled():
    from riffgen.audio.mix import match_polarity

    t = np.arange(44100) / 44100
    tone = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None]
    np.testing.assert_array_equal(match_polarity(tone[:, -4410:], -tone), tone)
    noise = np.random.default_rng(0).standard_normal((1, 44100)).astype(np.float32) * 0.1
    np.testing.assert_array_equal(match_polarity(tone[:, :4410], noise), noise)  # unrelated
    # Joining a held tone to its own inverse keeps its level through the crossfade.
    joined = join([tone, -tone], crossfade_samples=4410)
    mid = joined[0, 44100 - 4410 : 44100]
    assert abs(20 * np.log10(np.sqrt(np.mean(mid**2)) / np.sqrt(np.mean(tone**2)))) < 0.5
