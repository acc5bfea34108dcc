"""Jam, transform and loop joins: one level across them, no visible join (#13.5), any decoder."""

from __future__ import annotations

import numpy as np
import pytest

from riffgen.audio import SpectrogramParams, audio_to_image
from riffgen.audio.image import params_from_image
from riffgen.diffusion.types import RiffgenOutput
from riffgen.endless.engine import JamConfig, JamEngine
from riffgen.endless.stitch import LevelMatcher, limit_peaks

CRESTS = [1, 6, 2, 8, 1, 4]  # a few spikes set each clip's normalisation: RMS steps of 10-15 dB
SR = 44100


class CrestMaker:
    """Peak-normalised clips that differ in RMS by their crest factor, as decoded clips do."""

    def __init__(self, silent: set[int] | None = None) -> None:
        self.n = 0
        self.silent = silent or set()

    def __call__(self, start, end, alpha, init_image, mask_image=None) -> RiffgenOutput:
        params = params_from_image(init_image)
        n = params.num_samples(init_image.width)
        rng = np.random.default_rng(self.n)
        t = np.arange(n) / params.sample_rate
        audio = np.sin(2 * np.pi * (220 + 20 * self.n) * t) + 0.2 * rng.standard_normal(n)
        audio[rng.integers(0, n, 20)] *= CRESTS[self.n % len(CRESTS)]
        audio = audio / np.abs(audio).max() * 0.99
        if self.n in self.silent:  # a break: near silence (the model made it quiet)
            audio *= 1e-3
        self.n += 1
        audio = audio.astype(np.float32)[None]
        return RiffgenOutput(audio=audio, sample_rate=params.sample_rate, image=init_image)


def _db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _jam(beat_seed, clips=6, **config):
    engine = JamEngine(
        CrestMaker(config.pop("silent", None)), ["a", "b"], seed_image=beat_seed,
        config=JamConfig(**config),
    )  # fmt: skip
    made = list(engine.clips(max_clips=clips))
    stream = np.concatenate([c.audio for c in made], axis=1)[0]
    joins = [c.stream_start + engine.crossfade_samples // 2 for c in made[1:]]
    return made, stream, joins


def join_steps(stream: np.ndarray, joins: list[int], half: int = SR // 2) -> list[float]:
    """RMS level (dB) of the half second before each join minus the half second after."""
    return [_db(stream[j - half : j]) - _db(stream[j : j + half]) for j in joins]


def join_flux(stream: np.ndarray, joins: list[int]) -> tuple[list[float], float, float]:
    """Spectral flux (mean |change| of the spectrogram image between columns) of the columns
    around each join, the median column's and the 99.5th percentile's."""
    pixels = np.asarray(audio_to_image(stream, SR).convert("L"), dtype=np.float64)
    flux = np.abs(np.diff(pixels, axis=1)).mean(axis=0)
    hop = SpectrogramParams().hop_length
    around = [float(flux[j // hop - 3 : j // hop + 3].max()) for j in joins]
    return around, float(np.median(flux)), float(np.percentile(flux, 99.5))


def test_jam_clips_join_at_one_level(beat_seed):
    _, raw, joins = _jam(beat_seed, match_levels=False)
    assert max(abs(s) for s in join_steps(raw, joins)) > 9  # the gap: per-clip normalisation
    made, stream, joins = _jam(beat_seed)
    steps = join_steps(stream, joins)
    assert max(abs(s) for s in steps) < 1.0, steps
    around, median, p995 = join_flux(stream, joins)
    assert max(around) <= p995 and max(around) < 1.25 * median, (around, median, p995)
    assert np.abs(stream).max() <= 10 ** (-0.1 / 20) + 1e-6  # the limiter, not clipping
    assert all("gain_db" in c.to_dict() for c in made)


def test_a_break_stays_quiet_and_the_music_comes_back(beat_seed):
    made, stream, joins = _jam(beat_seed, silent={2})
    steps = join_steps(stream, joins)
    assert steps[1] > 20 and steps[2] < -20  # into and out of the break: real music, kept
    assert abs(steps[0]) < 1 and abs(steps[3]) < 1 and abs(steps[4]) < 1, steps
    assert made[2].extra["gain_db"] == 12.0  # held at the limit, not pulled up


def test_limit_peaks_touches_only_the_peaks():
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((2, SR))).astype(np.float32)
    assert limit_peaks(x * 0.5, ceiling=1.0) is not None
    np.testing.assert_array_equal(limit_peaks(x * 0.5, ceiling=1.0), x * 0.5)
    x[:, rng.integers(0, SR, 10)] = 3.0
    y = limit_peaks(x, ceiling=0.9)
    assert np.abs(y).max() <= 0.9
    assert abs(_db(y) - _db(np.clip(x, -0.9, 0.9))) < 0.5  # the level is kept
    far = np.ones(SR, bool)
    for k in np.flatnonzero(np.abs(x).max(axis=0) > 0.9):
        far[max(k - 450, 0) : k + 450] = False
    np.testing.assert_array_equal(y[:, far], x[:, far])  # nothing changes away from a peak


def test_level_matcher_first_clip_sets_the_level():
    m = LevelMatcher(headroom_db=6.0)
    a = np.full((1, 100), 0.5, np.float32)
    assert m.gain(a) == pytest.approx(10 ** (-6 / 20))
    assert m.gain(a * 0.25) == pytest.approx(4 * 10 ** (-6 / 20))
    assert m.gain(np.zeros((1, 100), np.float32)) == 1.0


class DecodingPipe:
    """A stand-in whose every window is its input image decoded (Griffin-Lim) and peak-
    normalised on its own, as a real model's windows are."""

    # 8 iterations: at 4 the two decodes of one held tone drift apart in pitch by ~1 Hz and
    # beat in the crossfade (a real model decodes at 16 or 32).
    spectrogram_params = SpectrogramParams(num_griffin_lim_iters=8)

    def interpolate(self, start, end, alpha, *, init_image, **_kwargs) -> RiffgenOutput:
        from riffgen.audio import image_to_audio

        audio, sr = image_to_audio(init_image, self.spectrogram_params)
        return RiffgenOutput(audio=audio, sample_rate=sr, image=init_image)


def test_transform_windows_join_at_the_input_level():
    from riffgen.endless.transform import transform_long, window_starts

    t = np.arange(12 * SR) / SR
    song = 0.3 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
    song[: 3 * SR] *= 0.2  # a quiet intro: the first join is at another level than the rest
    out, sr = transform_long(DecodingPipe(), song.astype(np.float32), SR, "a")
    window, overlap = SpectrogramParams().num_samples(512), int(0.5 * SR)
    starts = window_starts(song.size, window=window, overlap=overlap)
    ends = [s + window for s in starts]
    joins = [s + min(overlap, e - s) // 2 for s, e in zip(starts[1:], ends, strict=False)]
    steps = np.subtract(join_steps(out[0], joins), join_steps(song, joins))
    assert len(joins) >= 2 and max(abs(steps)) < 1.0, steps  # the song's own dynamics, kept


@pytest.mark.parametrize("decoder", ["vocoder", "griffin-lim"])
def test_loops_wrap_without_a_step_with_any_decoder(decoder):
    from riffgen.endless.loop import loop_audio

    # A steady chord: any dip, bump or click at the wrap is the decoder's, not the music's.
    t = np.arange(3 * SR) / SR
    chord = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.2 * np.sin(2 * np.pi * 495 * t)
    image = audio_to_image(chord.astype(np.float32), SR)
    image = image.crop((100, 0, 200, image.height))  # 100 columns = 1 s, away from the edges
    audio, sr = loop_audio(image, decoder=decoder)
    assert audio.shape == (1, 100 * 441) and sr == SR
    twice = np.tile(audio, 2)[0]
    wrap = audio.shape[1]
    steps = join_steps(twice, [wrap, wrap + SR // 2], half=SR // 20)  # the wrap, and mid-loop
    assert abs(steps[0]) < 1.0 and abs(steps[0]) <= abs(steps[1]) + 0.5, steps
    blocks = twice[: 2 * wrap - wrap % 441].reshape(-1, 441)  # 10 ms levels
    levels = 20 * np.log10(np.sqrt(np.mean(blocks.astype(np.float64) ** 2, axis=1)))
    wobble = np.abs(levels - np.median(levels))  # the decoder's own ripple, everywhere
    around = wobble[wrap // 441 - 5 : wrap // 441 + 5]
    assert around.max() <= np.percentile(wobble, 99), (around, np.percentile(wobble, 99))
