"""The diffusion pipeline: text/audio -> spectrogram image -> audio."""

from riffgen.diffusion.types import PromptInput, RiffgenOutput

__all__ = ["PromptInput", "RiffgenOutput"]
