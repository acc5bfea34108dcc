"""Bad vocoder input: broken weights, formats it was not trained for, a failing network.

Each falls back to Griffin-Lim (the same samples as decoder="griffin-lim") after one clear
line on stderr, said once per process however many clips follow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import riffgen.audio.vocoder as vocoder
from riffgen.audio import SpectrogramParams, audio_to_image
from riffgen.audio.convert import image_to_audio, resolve_decoder
from riffgen.audio.vocoder import DEFAULT_WEIGHTS, Vocoder, VocoderConfig, save_vocoder

TINY = VocoderConfig(dim=16, intermediate=32, layers=2)
SR = 44100


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(vocoder, "_said", set())  # "once per process" starts afresh per test


def _image(params: SpectrogramParams | None = None, seconds: float = 0.5):
    t = np.arange(int(seconds * SR)) / SR
    wave = (0.5 * np.sin(2 * np.pi * 440 * t) * np.exp(-4 * (t % 0.25))).astype(np.float32)
    return audio_to_image(wave, SR, params or SpectrogramParams())


def _broken_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (weights file, what the message must say)."""
    from safetensors.torch import save_file

    real = DEFAULT_WEIGHTS.read_bytes()
    files = {
        "empty": (b"", "unreadable"),
        "random": (os.urandom(4096), "unreadable"),
        "truncated": (real[: len(real) // 2], "unreadable"),
        "text": (json.dumps({"not": "weights"}).encode(), "unreadable"),
    }
    out = {}
    for name, (data, message) in files.items():
        path = tmp / f"{name}.safetensors"
        path.write_bytes(data)
        out[name] = (path, message)
    torch.manual_seed(0)
    model = Vocoder(TINY)
    good = save_vocoder(tmp / "tiny.safetensors", model, dtype=torch.float32)
    from safetensors import safe_open

    with safe_open(str(good), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    variants = {
        "version": ({**meta, "version": "99"}, tensors, "format version '99'"),
        "config-json": ({**meta, "config": "{not json"}, tensors, "do not match their config"),
        # a config that names a network of ~10^12 parameters: refused before any allocation
        "huge": ({**meta, "config": json.dumps({**TINY.to_json(), "dim": 10**6})}, tensors,
                 "do not match their config"),
        "nan": (meta, {k: torch.full_like(v, float("nan")) for k, v in tensors.items()},
                "NaN or infinite"),
        "other": ({}, {"x": torch.zeros(3)}, "not riffgen vocoder weights"),
    }  # fmt: skip
    for name, (metadata, ts, message) in variants.items():
        path = tmp / f"{name}.safetensors"
        save_file(ts, str(path), metadata=metadata)
        out[name] = (path, message)
    out["missing"] = (tmp / "nowhere.safetensors", "not found")
    out["folder"] = (tmp, "unreadable")
    return out


def test_broken_weights_fall_back_to_griffin_lim_said_once(tmp_path, monkeypatch, capsys):
    fast = SpectrogramParams(num_griffin_lim_iters=4)
    image = _image(fast, seconds=0.25)
    reference, _ = image_to_audio(image, fast, decoder="griffin-lim")
    for name, (path, message) in _broken_files(tmp_path).items():
        monkeypatch.setenv("RIFFGEN_VOCODER", str(path))
        vocoder._said.clear()
        for _ in range(2):  # two clips: one message
            audio, _sr = image_to_audio(image, fast, decoder="vocoder")
            np.testing.assert_array_equal(audio, reference)
        assert resolve_decoder("vocoder", SpectrogramParams()) == "griffin-lim"
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, (name, err)
        assert message in err[0] and "using Griffin-Lim instead" in err[0], (name, err[0])
        assert "Traceback" not in err[0]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (SpectrogramParams(num_frequencies=256), "256 mel bins"),
        (SpectrogramParams(num_frequencies=64), "64 mel bins"),
        (SpectrogramParams(sample_rate=22050), "sample rate 22050"),
        (SpectrogramParams(max_frequency=8000), "max frequency 8000"),
        (SpectrogramParams(step_size_ms=20), "step size ms 20"),
    ],
)
def test_untrained_formats_fall_back(params, message, capsys):
    image = _image(params)
    reference, _ = image_to_audio(image, params, decoder="griffin-lim")
    for _ in range(2):
        audio, sr = image_to_audio(image, params, decoder="vocoder")
        np.testing.assert_array_equal(audio, reference)
        assert sr == params.sample_rate
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Griffin-Lim" in err[0], err


def test_stereo_and_mini_images_are_vocoded(capsys):
    for params in (SpectrogramParams(stereo=True), SpectrogramParams(num_frequencies=128)):
        image = _image(params)
        audio, _ = image_to_audio(image, params, decoder="vocoder")
        gl, _ = image_to_audio(image, params, decoder="griffin-lim")
        assert audio.shape == gl.shape and np.isfinite(audio).all()
        assert not np.allclose(audio, gl)  # the vocoder ran
        assert resolve_decoder("vocoder", params) == "vocoder"
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (RuntimeError("CUDA out of memory\nmore lines"), "the vocoder failed (CUDA out of memory)"),
        ("nan", "NaN or infinite samples"),
    ],
)
def test_a_failing_network_falls_back(monkeypatch, capsys, failure, message):
    def broken(mel, params, **_kwargs):
        if isinstance(failure, Exception):
            raise failure
        return torch.full((mel.shape[0], (mel.shape[-1] - 1) * params.hop_length), float("nan"))

    monkeypatch.setattr(vocoder, "vocode", broken)
    image = _image()
    reference, _ = image_to_audio(image, decoder="griffin-lim")
    for _ in range(2):
        np.testing.assert_array_equal(image_to_audio(image, decoder="vocoder")[0], reference)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_once_per_process_across_clips_and_commands(tmp_path):
    """A fresh process: many clips (and a loop) with broken weights, one line on stderr."""
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    code = (
        "import numpy as np\n"
        "from riffgen.audio import audio_to_image, image_to_audio\n"
        "from riffgen.endless.loop import loop_audio\n"
        "img = audio_to_image(np.random.default_rng(0).standard_normal(22050), 44100)\n"
        "for _ in range(4): image_to_audio(img, decoder='vocoder')\n"
        "loop_audio(img, decoder='vocoder')\n"
        "print('ok')\n"
    )
    env = {**os.environ, "RIFFGEN_VOCODER": str(bad)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "unreadable" in lines[0] and "Griffin-Lim" in lines[0], lines
