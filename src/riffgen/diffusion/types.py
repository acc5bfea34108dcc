"""Data types shared by the pipeline, long-form generation, the server and the CLI.

``PromptInput`` mirrors one endpoint of the original web app's ``/run_inference/`` request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from riffgen.serialize import to_jsonable

__all__ = ["PromptInput", "RiffgenOutput", "to_jsonable"]


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
