"""Synthetic audio folders for the training tests (no downloads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 22050


def tone(seconds: float, *, freq: float = 440.0, amp: float = 0.3, sr: int = SR) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def audio_dir(tmp_path: Path) -> Path:
    """jazz/smooth_sax_01.wav (3.3 s tone), drums/loop.flac (2.2 s noise, stereo),
    ambient/pad.mp3 (2.2 s), silence.wav (2.2 s of zeros), broken.wav (not audio)."""
    root = tmp_path / "audio"
    (root / "jazz").mkdir(parents=True)
    (root / "drums").mkdir()
    (root / "ambient").mkdir()
    sf.write(root / "jazz" / "smooth_sax_01.wav", tone(3.3), SR)
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal((int(2.2 * 44100), 2))).astype(np.float32)
    sf.write(root / "drums" / "loop.flac", noise, 44100)
    sf.write(root / "ambient" / "pad.mp3", tone(2.2, freq=220, sr=44100), 44100, format="MP3")
    sf.write(root / "silence.wav", np.zeros(int(2.2 * SR), np.float32), SR)
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 10)
    return root


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a shared 2-core machine two threads spin against each other
    (30x slower under load); restored afterwards for other test folders."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
