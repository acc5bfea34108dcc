"""Level and mixing helpers (riffgen.audio.mix)."""

from __future__ import annotations

import numpy as np
import pytest

from riffgen.audio import crossfade_gains, join, limit_peak, normalize_peak
from riffgen.audio.mix import PEAK_DBFS, crossfade
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
