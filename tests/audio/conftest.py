"""Fixtures for the signal-layer tests: reference seed images and short synthetic clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_DIR = REPO_ROOT.parent / "shared" / "reference" / "riffusion_seed_images"
SEED_NAMES = ("og_beat", "agile", "marim", "motorway", "vibes")


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    if not (SEED_DIR / "og_beat.png").is_file():
        pytest.fail(f"reference seed images not found in {SEED_DIR} (shared/ beside the checkout)")
    return SEED_DIR


def music(seconds: float = 1.0, sample_rate: int = 44100, *, channels: int = 1, seed: int = 0):
    """A short deterministic test signal: two harmonic notes, a glide and a noise burst."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    out = []
    for ch in range(channels):
        f0 = 220.0 * (1.5 if ch else 1.0)
        x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
        x = x * np.exp(-3 * (t % 0.5))
        x += 0.3 * np.sin(2 * np.pi * (500 + 3000 * t) * t)
        burst = (t % 0.25) < 0.02
        x += 0.5 * burst * rng.standard_normal(t.size)
        out.append(0.2 * x)
    return np.asarray(out, dtype=np.float32)


@pytest.fixture
def clip() -> np.ndarray:
    """1 s of mono test music at 44.1 kHz, shape (1, 44100)."""
    return music(1.0)
