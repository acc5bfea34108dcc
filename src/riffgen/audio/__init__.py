"""The signal layer: audio <-> mel spectrogram <-> Riffusion spectrogram image.

Names are imported on first use: ``riffgen.audio.limits``, ``.params`` and ``.io`` need no
torch, so a command refusing a bad value answers at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from riffgen.audio.convert import audio_to_image, image_to_audio  # noqa: F401
    from riffgen.audio.io import load_audio, save_audio  # noqa: F401
    from riffgen.audio.mix import (  # noqa: F401
        PEAK_DBFS,
        conform_channels,
        crossfade,
        crossfade_gains,
        fade_out,
        join,
        limit_peak,
        normalize_peak,
    )
    from riffgen.audio.params import ExifTag, SpectrogramParams  # noqa: F401

_EXPORTS = {
    "audio_to_image": "convert",
    "image_to_audio": "convert",
    "load_audio": "io",
    "save_audio": "io",
    "PEAK_DBFS": "mix",
    "conform_channels": "mix",
    "crossfade": "mix",
    "crossfade_gains": "mix",
    "fade_out": "mix",
    "join": "mix",
    "limit_peak": "mix",
    "normalize_peak": "mix",
    "ExifTag": "params",
    "SpectrogramParams": "params",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"riffgen.audio.{_EXPORTS[name]}"), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
