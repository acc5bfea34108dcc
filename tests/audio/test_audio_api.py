"""Public Python API of the signal layer: parameters, conversions, audio I/O (issue 2)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

import riffgen
from riffgen import SpectrogramParams, audio_to_image, image_to_audio, load_audio, save_audio
from riffgen.audio.image import mel_from_image, save_image
from riffgen.audio.spectrogram import spectral_convergence

from .conftest import music

FAST = SpectrogramParams(num_griffin_lim_iters=8)


def test_public_names_importable_from_riffgen():
    for name in ("SpectrogramParams", "audio_to_image", "image_to_audio", "load_audio"):
        assert callable(getattr(riffgen, name))
    assert callable(riffgen.save_audio)


def test_default_params_equal_the_original():
    p = SpectrogramParams()
    assert (p.sample_rate, p.stereo, p.step_size_ms, p.window_duration_ms) == (
        44100,
        False,
        10,
        100,
    )
    assert (p.padded_duration_ms, p.num_frequencies) == (400, 512)
    assert (p.min_frequency, p.max_frequency, p.power_for_image) == (0, 10000, 0.25)
    assert p.num_griffin_lim_iters == 32
    assert (p.n_fft, p.win_length, p.hop_length) == (17640, 4410, 441)
    assert p.num_samples(512) == 511 * 441


def test_exif_round_trip_and_defaults_when_absent():
    p = SpectrogramParams(stereo=True, min_frequency=20, max_frequency=20000, num_frequencies=128)
    assert SpectrogramParams.from_exif(p.to_exif()) == p
    assert SpectrogramParams.from_exif({}) == SpectrogramParams()
    assert SpectrogramParams.from_exif(None) == SpectrogramParams()
    # The original wrote 0 for unknown values; they mean "default".
    assert SpectrogramParams.from_exif({11000: 0, 11040: 0}) == SpectrogramParams()
    assert SpectrogramParams.from_exif({11040: "junk"}) == SpectrogramParams()


def test_audio_to_image_shape_and_exif(tmp_path):
    audio = music(1.0)
    image = audio_to_image(audio, 44100)
    assert image.mode == "RGB" and image.size == (1 + 44100 // 441, 512)
    path = save_image(tmp_path / "a.png", image)
    assert Image.open(path).getexif()[11080] > 0  # MAX_VALUE, as the original stored it


def test_audio_to_image_resamples_other_rates():
    audio = music(1.0, 22050)
    image = audio_to_image(audio, 22050)
    assert image.size == (1 + 44100 // 441, 512)
    same = audio_to_image(music(1.0, 44100), 44100)
    # Same music at another rate gives nearly the same picture (below 10 kHz < 11 kHz Nyquist).
    diff = np.abs(np.asarray(image, np.int16) - np.asarray(same, np.int16))
    assert np.median(diff) <= 3


def test_image_to_audio_duration_levels_and_dtype():
    image = audio_to_image(music(1.0), 44100)
    audio, sr = image_to_audio(image, FAST, seed=0)
    assert sr == 44100 and audio.dtype == np.float32
    assert audio.shape == (1, (image.width - 1) * 441)
    assert np.abs(audio).max() == pytest.approx(10 ** (-0.1 / 20), rel=1e-4)
    assert 0.01 < np.sqrt(np.mean(audio**2)) < 0.7


def test_round_trip_recovers_the_spectrum():
    source = music(1.0)
    image = audio_to_image(source, 44100)
    audio, _ = image_to_audio(image, seed=0)
    params = SpectrogramParams()
    target = torch.from_numpy(mel_from_image(image, params))
    assert spectral_convergence(torch.from_numpy(audio), target, params) < 0.12
    # The loudest partial survives at its frequency.
    spec_in = np.abs(np.fft.rfft(source[0]))
    spec_out = np.abs(np.fft.rfft(audio[0]))
    assert abs(int(np.argmax(spec_in)) - int(np.argmax(spec_out))) <= 3


def test_seed_makes_it_deterministic_and_seeds_differ():
    image = audio_to_image(music(0.5), 44100)
    a, _ = image_to_audio(image, FAST, seed=3)
    b, _ = image_to_audio(image, FAST, seed=3)
    c, _ = image_to_audio(image, FAST, seed=4)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_zero_iterations_still_make_audio():
    image = audio_to_image(music(0.5), 44100)
    audio, _ = image_to_audio(image, SpectrogramParams(num_griffin_lim_iters=0), seed=0)
    assert audio.shape == (1, (image.width - 1) * 441)
    assert np.abs(audio).max() > 0.5


def test_more_iterations_converge_further():
    image = audio_to_image(music(1.0), 44100)
    params = SpectrogramParams()
    target = torch.from_numpy(mel_from_image(image, params))
    sc = []
    for n in (0, 4, 32):
        audio, _ = image_to_audio(image, params.replace(num_griffin_lim_iters=n), seed=0)
        sc.append(spectral_convergence(torch.from_numpy(audio), target, params))
    assert sc[0] > sc[1] > sc[2]


def test_original_algorithm_is_available():
    image = audio_to_image(music(0.3), 44100)
    audio, sr = image_to_audio(image, FAST, seed=0, algorithm="original")
    assert audio.shape == (1, (image.width - 1) * 441) and sr == 44100


def test_stereo_round_trip_keeps_channels_apart():
    left = music(0.6, seed=0)[0]
    right = np.zeros_like(left)
    right[: left.size // 2] = left[: left.size // 2]  # right channel silent in the second half
    params = SpectrogramParams(stereo=True, num_griffin_lim_iters=8)
    image = audio_to_image(np.stack([left, right]), 44100, params)
    audio, _ = image_to_audio(image, seed=0)  # params from EXIF (stereo)
    assert audio.shape == (2, (image.width - 1) * 441)
    half = audio.shape[1] // 2 + 4410
    assert np.abs(audio[1, half:]).max() < 0.01 * np.abs(audio[0, half:]).max()


@pytest.mark.parametrize(
    "params",
    [
        SpectrogramParams(min_frequency=20, max_frequency=20000, num_griffin_lim_iters=8),
        SpectrogramParams(num_frequencies=128, num_griffin_lim_iters=8),
        SpectrogramParams(sample_rate=22050, max_frequency=11025, num_griffin_lim_iters=8),
    ],
    ids=["20Hz-20kHz", "128mels", "22kHz"],
)
def test_custom_parameters_round_trip(params):
    source = music(0.7, params.sample_rate)
    image = audio_to_image(source, params.sample_rate, params)
    assert image.height == params.num_frequencies
    audio, sr = image_to_audio(image, seed=0)  # everything read back from EXIF
    assert sr == params.sample_rate
    assert audio.shape[1] == (image.width - 1) * params.hop_length
    target = torch.from_numpy(mel_from_image(image, params))
    assert spectral_convergence(torch.from_numpy(audio), target, params) < 0.25


@pytest.mark.parametrize("width", [2, 3, 100, 1000])
def test_any_width(width):
    image = Image.new("L", (width, 512), 255)
    image.paste(0, (0, 400, width, 405))
    audio, _ = image_to_audio(image, FAST, seed=0)
    assert audio.shape == (1, (width - 1) * 441)
    assert np.isfinite(audio).all()


# -- audio I/O -------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_save_and_load_formats(tmp_path, ext):
    audio = music(1.0, channels=2)
    path = save_audio(tmp_path / f"x.{ext}", audio, 44100)
    back, sr = load_audio(path)
    assert sr == 44100 and back.shape[0] == 2 and back.dtype == np.float32
    assert abs(back.shape[1] - audio.shape[1]) <= 2048  # lossy codecs pad a little
    n = min(back.shape[1], audio.shape[1])
    if ext in ("wav", "flac"):
        assert np.abs(back[:, :n] - audio[:, :n]).max() < 1e-3
    assert np.sqrt(np.mean(back**2)) == pytest.approx(np.sqrt(np.mean(audio**2)), rel=0.2)
    assert not list(tmp_path.glob(".*"))  # no temporary files left


def test_load_resamples_and_downmixes(tmp_path):
    sf.write(tmp_path / "a.wav", music(1.0, 16000, channels=2).T, 16000)
    audio, sr = load_audio(tmp_path / "a.wav", sample_rate=44100, mono=True)
    assert sr == 44100 and audio.shape[0] == 1
    assert abs(audio.shape[1] - 44100) <= 1


def test_load_clip_start_and_duration(tmp_path):
    t = np.arange(44100 * 3) / 44100
    ramp = (t / 3).astype(np.float32)  # value = time / 3
    sf.write(tmp_path / "r.wav", ramp, 44100, subtype="FLOAT")
    clip, _ = load_audio(tmp_path / "r.wav", start=1.0, duration=0.5)
    assert clip.shape == (1, 22050)
    assert clip[0, 0] == pytest.approx(1 / 3, abs=1e-4)
    tail, _ = load_audio(tmp_path / "r.wav", start=2.5, duration=10)  # clipped at the end
    assert tail.shape == (1, 22050)


def test_mono_input_to_stereo_params_duplicates():
    image = audio_to_image(music(0.3), 44100, SpectrogramParams(stereo=True))
    px = np.asarray(image)
    assert (px[..., 0] == 0).all() and np.array_equal(px[..., 1], px[..., 2])
