"""riffgen: music from text with Stable Diffusion on mel spectrograms."""

from riffgen.audio import (
    SpectrogramParams,
    audio_to_image,
    image_to_audio,
    load_audio,
    save_audio,
)
from riffgen.errors import RiffgenError

__version__ = "0.1.0"

__all__ = [
    "RiffgenError",
    "SpectrogramParams",
    "__version__",
    "audio_to_image",
    "image_to_audio",
    "load_audio",
    "save_audio",
]
