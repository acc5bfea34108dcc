"""The signal layer: audio <-> mel spectrogram <-> Riffusion spectrogram image."""

from riffgen.audio.convert import audio_to_image, image_to_audio
from riffgen.audio.io import load_audio, save_audio
from riffgen.audio.params import ExifTag, SpectrogramParams

__all__ = [
    "ExifTag",
    "SpectrogramParams",
    "audio_to_image",
    "image_to_audio",
    "load_audio",
    "save_audio",
]
