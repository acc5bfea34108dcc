"""The diffusion pipeline: text/audio -> spectrogram image -> audio.

``RiffgenPipeline`` is imported lazily: importing the types does not pull in diffusers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from riffgen.diffusion.types import PromptInput, RiffgenOutput

if TYPE_CHECKING:
    from riffgen.diffusion.pipeline import RiffgenPipeline

__all__ = ["PromptInput", "RiffgenOutput", "RiffgenPipeline", "load_pipeline"]


def __getattr__(name: str) -> Any:
    if name == "RiffgenPipeline":
        from riffgen.diffusion.pipeline import RiffgenPipeline

        return RiffgenPipeline
    if name == "load_pipeline":
        from riffgen.diffusion.factory import load_pipeline

        return load_pipeline
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
