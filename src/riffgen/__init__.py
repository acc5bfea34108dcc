"""riffgen: music from text with Stable Diffusion on mel spectrograms.

The public API is imported on first use, so ``import riffgen`` (and ``riffgen --help``) does not
pay for torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from riffgen.errors import RiffgenError

if TYPE_CHECKING:
    from riffgen.audio import (  # noqa: F401  (re-exported lazily, see __getattr__)
        SpectrogramParams,
        audio_to_image,
        image_to_audio,
        load_audio,
        save_audio,
    )

__version__ = "0.1.0"

_AUDIO = ("SpectrogramParams", "audio_to_image", "image_to_audio", "load_audio", "save_audio")

__all__ = ["RiffgenError", "__version__", *_AUDIO]


def __getattr__(name: str) -> Any:
    if name in _AUDIO:
        import riffgen.audio

        return getattr(riffgen.audio, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
