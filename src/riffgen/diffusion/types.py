"""Data types shared by the pipeline, long-form generation, the server and the CLI.

``PromptInput`` mirrors one endpoint of the original web app's ``/run_inference/`` request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from riffgen.serialize import to_jsonable

if TYPE_CHECKING:
    from riffgen.audio import SpectrogramParams

__all__ = [
    "DEFAULT_STEPS",
    "Pipeline",
    "PromptInput",
    "RiffgenOutput",
    "steps_for",
    "to_jsonable",
]


# Bounds on one call's work, checked before any tensor is made (see Pipeline.check_inputs).
# Steps: the schedulers' training has 1000 timesteps, more steps than that repeat them. One
# generated clip: attention cost grows with the square of the width, so 60 s (about 6000 px)
# is the most one call makes; `riffgen jam` and whole-song transform make longer music clip by
# clip. Prompts are encoded in 77-token chunks; 10,000 characters is pages of text.
MAX_STEPS = 1000
MAX_SEED = 2**63 - 1  # torch generators take a signed 64-bit seed
MAX_CLIP_SECONDS = 60.0
MAX_PROMPT_CHARS = 10_000
MAX_GUIDANCE = 100.0
# Denoising steps when neither the caller nor the model (riffgen.json "defaults") names any:
# riffusion's own default.
DEFAULT_STEPS = 50


def steps_for(pipe: Any, steps: int | None) -> int:
    """``steps``, or when None the pipeline's ``default_steps`` (the model's recommended
    number; :data:`DEFAULT_STEPS` for a pipeline that names none)."""
    if steps is not None:
        return steps
    return int(getattr(pipe, "default_steps", DEFAULT_STEPS))


@dataclass(frozen=True)
class PromptInput:
    """One interpolation endpoint: what to play and how strongly to change the seed image."""

    prompt: str
    seed: int = 0
    negative_prompt: str | None = None
    denoising: float = 0.75
    guidance: float = 7.0


@dataclass
class RiffgenOutput:
    """What every generating call returns.

    ``audio`` is float32 ``[channels, samples]`` at ``sample_rate`` Hz; ``image`` the
    spectrogram it was decoded from; ``parameters`` every input used, JSON-serialisable,
    enough to reproduce the result.
    """

    audio: np.ndarray
    sample_rate: int
    image: Image.Image
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.audio.shape[-1] / self.sample_rate


Callback = Callable[[int, int], None]


@runtime_checkable
class Pipeline(Protocol):
    """What the CLI, the jam engine, whole-song transform and the server call on a pipeline.

    :class:`~riffgen.diffusion.pipeline.RiffgenPipeline` and the fake
    (:class:`~riffgen.diffusion.fake.FakePipeline`) satisfy it; a test checks both signatures.
    """

    spectrogram_params: SpectrogramParams
    # What ``num_inference_steps=None`` means: the model's recommended number of steps.
    default_steps: int

    def text_to_audio(
        self,
        prompt: str,
        *,
        negative_prompt: str | None = None,
        seed: int = 0,
        num_inference_steps: int | None = None,
        guidance: float = 7.0,
        width: int = 512,
        duration_s: float | None = None,
        scheduler: str | None = None,
        callback: Callback | None = None,
        tempo_seed: bool = True,
    ) -> RiffgenOutput: ...

    def audio_to_audio(
        self,
        prompt: str,
        *,
        init_image: Image.Image | None = None,
        init_audio: np.ndarray | None = None,
        sample_rate: int | None = None,
        denoising: float = 0.75,
        negative_prompt: str | None = None,
        seed: int = 0,
        num_inference_steps: int | None = None,
        guidance: float = 7.0,
        scheduler: str | None = None,
        callback: Callback | None = None,
    ) -> RiffgenOutput: ...

    def inpaint(
        self,
        prompt: str,
        *,
        init_image: Image.Image | None = None,
        init_audio: np.ndarray | None = None,
        sample_rate: int | None = None,
        mask_image: Image.Image | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        min_hz: float | None = None,
        max_hz: float | None = None,
        denoising: float = 1.0,
        negative_prompt: str | None = None,
        seed: int = 0,
        num_inference_steps: int | None = None,
        guidance: float = 7.0,
        scheduler: str | None = None,
        callback: Callback | None = None,
    ) -> RiffgenOutput: ...

    def interpolate(
        self,
        start: PromptInput,
        end: PromptInput,
        alpha: float,
        *,
        init_image: Image.Image,
        mask_image: Image.Image | None = None,
        num_inference_steps: int | None = None,
        scheduler: str | None = None,
        callback: Callback | None = None,
    ) -> RiffgenOutput: ...
