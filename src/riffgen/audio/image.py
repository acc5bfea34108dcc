"""Mel spectrogram <-> Riffusion spectrogram image (pixel format of riffusion-model-v1)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from riffgen.audio.limits import check_image_size
from riffgen.audio.params import ExifTag, SpectrogramParams
from riffgen.errors import RiffgenError
from riffgen.files import atomic_path


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open and fully decode an image file, or raise :class:`RiffgenError` with one line.

    Missing files, non-images and truncated or corrupt images are all reported, never
    left to fail later mid-conversion.
    """
    path = Path(path)
    if not path.exists():
        raise RiffgenError(f"image file not found: {path}")
    if not path.is_file():
        raise RiffgenError(f"not a file: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)  # reads the header only: the size is known, nothing decoded
            try:
                check_image_size(image.width, image.height)
            except RiffgenError as exc:
                raise RiffgenError(f"{path}: {exc}") from None
            image.load()
    except RiffgenError:
        raise
    except Exception as exc:  # PIL raises many types for bad files; the user needs one line
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RiffgenError(f"cannot read {path} as an image: {reason}") from None
    return image


def save_image(path: str | os.PathLike[str], image: Image.Image) -> Path:
    """Write ``image`` as PNG (atomically), keeping its EXIF spectrogram parameters."""
    path = Path(path)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", exif=image.getexif())
    return path


def image_from_mel(mel: np.ndarray, params: SpectrogramParams) -> Image.Image:
    """Encode ``mel`` ``(channels, n_mels, frames)`` as an RGB image with EXIF parameters.

    ``pixel = uint8(255 - 255 * (S / S.max()) ** power)``, low frequencies at the bottom.
    Mono: R = G = B. Stereo: R = 0, G = left, B = right.
    """
    mel = np.asarray(mel, dtype=np.float32)
    if mel.ndim != 3 or mel.shape[0] not in (1, 2):
        raise RiffgenError(f"expected a (1 or 2, mels, frames) spectrogram, got shape {mel.shape}")
    max_value = float(mel.max())
    data = mel / max_value if max_value > 0 else np.zeros_like(mel)
    data = np.power(data, np.float32(params.power_for_image)) * np.float32(255)
    pixels = (np.float32(255) - data).astype(np.uint8)
    if pixels.shape[0] == 1:
        rgb = np.repeat(pixels, 3, axis=0)
    else:
        rgb = np.stack([np.zeros_like(pixels[0]), pixels[0], pixels[1]])
    image = Image.fromarray(np.ascontiguousarray(rgb.transpose(1, 2, 0)[::-1]), mode="RGB")
    exif = image.getexif()
    for tag, value in params.to_exif().items():
        exif[int(tag)] = value
    exif[int(ExifTag.MAX_VALUE)] = max_value
    image.info["exif"] = exif.tobytes()
    return image


def params_from_image(image: Image.Image) -> SpectrogramParams:
    """Parameters stored in the image's EXIF, defaults where absent."""
    try:
        exif = dict(image.getexif())
    except Exception:  # a damaged EXIF block is no reason to refuse the picture
        exif = {}
    return SpectrogramParams.from_exif(exif)


def mel_from_image(
    image: Image.Image, params: SpectrogramParams, *, max_value: float = 30e6
) -> np.ndarray:
    """Decode an image of any mode into a mel spectrogram ``(channels, height, width)``.

    Transparent pixels (alpha) count as white, i.e. silence. Stereo reads G and B.
    """
    if image.width < 1 or image.height < 1:
        raise RiffgenError(f"image is empty ({image.width}x{image.height})")
    check_image_size(image.width, image.height)  # a lazily opened image is decoded below
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    pixels = np.asarray(image.convert("RGB"))
    # Pick the channels while still uint8: a float copy of all three would be 12 bytes/pixel.
    pixels = pixels[::-1, :, 1:3] if params.stereo else pixels[::-1, :, 0:1]
    data = pixels.transpose(2, 0, 1).astype(np.float32)
    data = ((255.0 - data) / 255.0) ** (1.0 / params.power_for_image)
    return np.ascontiguousarray(data * max_value, dtype=np.float32)


def resize_mel_height(mel: np.ndarray, *, height: int) -> np.ndarray:
    """Resample a spectrogram ``(channels, h, w)`` along frequency to ``height`` rows
    (bilinear, clamped >= 0): pictures of another height than the mel count."""
    t = torch.from_numpy(mel)[None]
    out = torch.nn.functional.interpolate(
        t, size=(height, mel.shape[-1]), mode="bilinear", align_corners=False
    )
    return out[0].clamp_min(0).numpy()
