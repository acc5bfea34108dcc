"""``python -m riffgen.demo``: the shipped clip's round trip, and generation with --model."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from riffgen.audio import SpectrogramParams
from riffgen.demo import demo_clip_path, main

# The shipped clip is exactly one Riffusion image: 512 columns of 10 ms -> 511 hops of audio.
CLIP_SAMPLES = 511 * 441


def rms_dbfs(samples: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(samples, dtype=np.float64))) + 1e-12)


def test_shipped_clip_is_packaged_and_musical():
    info = sf.info(str(demo_clip_path()))
    assert (info.samplerate, info.channels, info.frames) == (44100, 1, CLIP_SAMPLES)
    assert demo_clip_path().stat().st_size < 400_000


def test_demo_round_trip_writes_png_and_wavs(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "spectral convergence" in printed and str(out / "roundtrip.wav") in printed

    image = Image.open(out / "spectrogram.png")
    assert image.size == (512, 512)
    assert SpectrogramParams.from_exif(image.getexif()) == SpectrogramParams()
    pixels = np.asarray(image.convert("L"), dtype=np.float32)
    assert pixels.std() > 10  # a picture with content, not a flat image

    original, sr0 = sf.read(out / "original.wav", dtype="float32")
    audio, sr = sf.read(out / "roundtrip.wav", dtype="float32")
    assert sr == sr0 == 44100 and audio.shape == original.shape == (CLIP_SAMPLES,)
    assert np.abs(audio).max() > 0.9  # normalised to -0.1 dBFS
    assert rms_dbfs(audio) > -30  # real content, not near-silence
    # Most of the time the decoded clip is not silent (the music plays throughout).
    frames = audio[: CLIP_SAMPLES // 2205 * 2205].reshape(-1, 2205)
    assert (np.sqrt(np.mean(frames**2, axis=1)) > 10 ** (-40 / 20)).mean() > 0.9
    # Same music: the loudness envelopes (50 ms frames) of input and output move together.
    env_in = np.sqrt(np.mean(original[: frames.size].reshape(frames.shape) ** 2, axis=1))
    env_out = np.sqrt(np.mean(frames**2, axis=1))
    assert np.corrcoef(env_in, env_out)[0, 1] > 0.8


def test_demo_reports_bad_input_in_one_line(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--input", str(tmp_path / "missing.flac")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("riffgen demo: error:") and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_demo_generates_with_a_model(debug_model_dir, tmp_path, capsys):
    out = tmp_path / "gen"
    argv = ["--out", str(out), "--model", str(debug_model_dir), "--prompt", "calm organ chords"]
    assert main([*argv, "--steps", "2", "--dtype", "fp32", "--device", "cpu"]) == 0
    assert str(out / "generated.wav") in capsys.readouterr().out
    audio, sr = sf.read(out / "generated.wav", dtype="float32")
    image = Image.open(out / "generated.png")
    assert sr == 44100 and audio.shape == ((image.width - 1) * 441,)
    assert np.abs(audio).max() > 0
