"""Encoding and decoding of the bytes the server exchanges: audio files, images, data URLs."""

from __future__ import annotations

import base64
import io
from typing import Literal

import numpy as np
import soundfile as sf
from PIL import Image, UnidentifiedImageError

from riffgen.errors import RiffgenError

AudioFormat = Literal["wav", "mp3", "ogg"]

AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg"}
_SF_FORMAT = {"wav": ("WAV", "PCM_16"), "mp3": ("MP3", None), "ogg": ("OGG", "VORBIS")}
# Decoders beyond these (e.g. huge TIFFs) are not worth the attack surface.
_IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")


def encode_audio(samples: np.ndarray, sample_rate: int, fmt: AudioFormat) -> bytes:
    """``[channels, n]`` float audio -> file bytes (WAV 16-bit, MP3, OGG Vorbis)."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[None]
    sf_format, subtype = _SF_FORMAT[fmt]
    buffer = io.BytesIO()
    data = np.clip(np.nan_to_num(samples.T), -1.0, 1.0)
    if fmt == "mp3" and sample_rate not in (32000, 44100, 48000, 16000, 22050, 24000):
        raise RiffgenError(f"MP3 cannot store {sample_rate} Hz audio")
    sf.write(buffer, data, sample_rate, format=sf_format, subtype=subtype)
    return buffer.getvalue()


def decode_audio(
    data: bytes, *, field: str = "file", start_frame: int = 0, max_frames: int = -1
) -> tuple[np.ndarray, int]:
    """Audio file bytes (anything libsndfile reads: WAV, FLAC, OGG, MP3) -> ``([ch, n], sr)``.

    Only frames ``start_frame`` to ``start_frame + max_frames`` are decoded (``-1``: to the end).
    """
    if not data:
        raise RiffgenError(f"{field}: empty upload")
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            if start_frame:
                f.seek(start_frame)
            samples = f.read(max_frames, dtype="float32", always_2d=True)
            sr = f.samplerate
    except Exception as exc:  # libsndfile raises a zoo of types for broken files
        raise RiffgenError(f"{field}: not a readable audio file ({_short(exc)})") from None
    if samples.shape[0] == 0:
        raise RiffgenError(f"{field}: the audio file holds no samples")
    if not np.isfinite(samples).all():
        raise RiffgenError(f"{field}: the audio holds NaN or infinite samples")
    return np.ascontiguousarray(samples.T), int(sr)


def decode_image(
    data: bytes, *, field: str = "image", max_pixels: int = 4096 * 1024
) -> Image.Image:
    """Image bytes -> a loaded PIL image; refuses unknown formats and decompression bombs."""
    if not data:
        raise RiffgenError(f"{field}: empty upload")
    try:
        image = Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS)
        if image.width * image.height > max_pixels:
            raise RiffgenError(
                f"{field}: image of {image.width}x{image.height} pixels is too large "
                f"(at most {max_pixels} pixels)"
            )
        image.load()
    except RiffgenError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise RiffgenError(f"{field}: not a readable image ({_short(exc)})") from None
    return image


def encode_image(image: Image.Image, fmt: Literal["png", "jpeg"] = "png") -> bytes:
    """PIL image -> PNG (lossless, keeps the spectrogram EXIF) or JPEG bytes."""
    buffer = io.BytesIO()
    exif = image.info.get("exif")
    rgb = image if image.mode in ("RGB", "L") else image.convert("RGB")
    kwargs = {"exif": exif} if exif else {}
    if fmt == "jpeg":
        rgb.save(buffer, format="JPEG", quality=90, **kwargs)
    else:
        rgb.save(buffer, format="PNG", **kwargs)
    return buffer.getvalue()


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
