"""The signal layer: audio <-> mel spectrogram <-> Riffusion spectrogram image."""

from riffgen.audio.convert import audio_to_image, image_to_audio
from riffgen.audio.io import load_audio, save_audio
from riffgen.audio.mix import (
    PEAK_DBFS,
    conform_channels,
    crossfade,
    crossfade_gains,
    fade_out,
    join,
    limit_peak,
    normalize_peak,
)
from riffgen.audio.params import ExifTag, SpectrogramParams

__all__ = [
    "PEAK_DBFS",
    "ExifTag",
    "SpectrogramParams",
    "audio_to_image",
    "conform_channels",
    "crossfade",
    "crossfade_gains",
    "fade_out",
    "image_to_audio",
    "join",
    "limit_peak",
    "load_audio",
    "normalize_peak",
    "save_audio",
]
