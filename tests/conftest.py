"""Shared fixtures: a debug-size diffusion model (random weights, real classes) for tests."""

from __future__ import annotations

import os

import pytest

# No test may reach the network for models.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session")
def debug_model_dir(tmp_path_factory):
    """Path of a debug model in the diffusers layout (built once per session)."""
    from riffgen.models.registry import build_model

    return build_model("debug", tmp_path_factory.mktemp("debug_model") / "debug", seed=0)


@pytest.fixture(scope="session")
def debug_pipeline(debug_model_dir):
    """The debug model loaded through RiffgenPipeline.from_pretrained (fp32, cpu)."""
    from riffgen.diffusion import RiffgenPipeline

    return RiffgenPipeline.from_pretrained(debug_model_dir, device="cpu", dtype="fp32")


@pytest.fixture
def require_fluidsynth():
    """Fail (never skip) when FluidSynth or a GM soundfont is missing: `make setup` installs them."""
    from riffgen.synth import fluidsynth_available

    if not fluidsynth_available():
        pytest.fail("fluidsynth or a GM soundfont is not installed: run `make setup`")
