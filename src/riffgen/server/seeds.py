"""Seed and mask images the server may use, looked up by name only (never by path).

The real registry is :mod:`riffgen.endless.seeds`; this adapter gives the server one small
interface (``list`` and ``get``, which returns an :class:`~riffgen.endless.seeds.SeedImage`) and
lets tests inject their own images.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from riffgen.endless.seeds import SeedImage, get_seed_image, list_seed_images
from riffgen.errors import RiffgenError

# Names are identifiers, so no request can smuggle a path ("../x", "/etc/passwd").
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"
_NAME_RE = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class SeedInfo:
    """What the web app shows about a seed: tempo in BPM (None when unknown), size in pixels."""

    name: str
    bpm: float | None
    width: int
    height: int
    is_mask: bool = False


class SeedRegistry(Protocol):
    def list(self) -> list[SeedInfo]: ...

    def get(self, name: str, *, bpm: float | None = None) -> SeedImage: ...


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise RiffgenError(f"{name!r} is not a seed image name")
    return name


class DictSeedRegistry:
    """Images held in memory; ``bpms`` gives their tempo. Masks are names starting ``mask``."""

    def __init__(self, images: dict[str, Image.Image], bpms: dict[str, float] | None = None):
        self._images = {check_name(k): v for k, v in images.items()}
        self._bpms = dict(bpms or {})

    def list(self) -> list[SeedInfo]:
        return [
            SeedInfo(
                name=n,
                bpm=self._bpms.get(n),
                width=im.width,
                height=im.height,
                is_mask=n.startswith("mask"),
            )
            for n, im in sorted(self._images.items())
        ]

    def get(self, name: str, *, bpm: float | None = None) -> SeedImage:
        if name not in self._images:
            raise RiffgenError(f"unknown seed image {name!r}")
        return SeedImage.from_image(self._images[name].copy(), name=name, bpm=self._bpms.get(name))


class EndlessSeedRegistry:
    """riffgen's shipped seed images (:mod:`riffgen.endless.seeds`) plus the built-in masks."""

    def __init__(self) -> None:
        self._cache: list[SeedInfo] | None = None

    def list(self) -> list[SeedInfo]:
        if self._cache is None:
            infos = []
            for entry in list_seed_images():
                width, height = get_seed_image(entry["name"], allow_path=False).image.size
                infos.append(SeedInfo(entry["name"], float(entry["bpm"]), width, height))
            infos += [SeedInfo(n, None, 512, 512, is_mask=True) for n in MASK_NAMES]
            self._cache = sorted(infos, key=lambda i: (i.is_mask, i.name))
        return list(self._cache)

    def get(self, name: str, *, bpm: float | None = None) -> SeedImage:
        check_name(name)
        if name.startswith("mask"):
            return SeedImage(name=name, image=builtin_mask(name))
        return get_seed_image(name, bpm=bpm, allow_path=False)


def default_registry() -> SeedRegistry:
    """riffgen's own seed images and masks."""
    return EndlessSeedRegistry()


def _mask_array(name: str) -> np.ndarray | None:
    """Procedural versions of the original app's masks, fitted to them (white = repaint, grey =
    keep partly; within 2 grey levels of 255 on average)."""
    rows = np.arange(512, dtype=np.float32)[:, None]  # 0 at the top (high frequencies)
    full = np.ones((1, 512), np.float32)
    if name in _TOP_BANDS:
        level, height = _TOP_BANDS[name]
        return np.where(rows < height, level, 1.0) * full
    if name in _GRADIENTS:
        start, span, ease = _GRADIENTS[name]
        t = np.clip(rows / span, 0.0, 1.0)
        rise = 1.0 - np.cos(t * np.pi / 2) if ease == "cos" else t * t * (3.0 - 2.0 * t)
        return (start + (1.0 - start) * rise) * full
    if name == "mask_beat_lines_80":
        # Soft vertical lines (80% repaint) on the beats of the original's 512-px loop, in the
        # top 40% of the spectrum: the high-frequency hits are kept a little, all else repaints.
        cols = np.arange(512, dtype=np.float32)[None, :]
        dip = np.zeros((1, 512), np.float32)
        for centre in _BEAT_LINE_COLUMNS:
            x = np.clip(np.abs(cols - centre) / _BEAT_LINE_HALF_WIDTH, 0.0, 1.0)
            dip = np.maximum(dip, 0.5 + 0.5 * np.cos(np.pi * x))
        return np.where(rows < 0.4 * 512, 1.0 - 0.2 * dip, 1.0).astype(np.float32)
    return None


# Measured on the original 512x512 masks: (grey level, rows) of the flat top bands ...
_TOP_BANDS = {"mask_top_third_75": (192 / 255, 180), "mask_top_third_95": (242 / 255, 165)}
# ... (level at the top row, rows until white, easing) of the gradients ...
_GRADIENTS = {
    "mask_gradient_dark": (0.125, 253.0, "cos"),
    "mask_gradient_top_70": (0.66, 276.0, "smoothstep"),
    "mask_gradient_top_fifth_75": (0.66, 161.0, "smoothstep"),
}
# ... and the pixel columns and half width of the beat lines.
_BEAT_LINE_COLUMNS = (0, 64, 191, 319, 446, 511)
_BEAT_LINE_HALF_WIDTH = 13.0


MASK_NAMES = (
    "mask_beat_lines_80",
    "mask_gradient_dark",
    "mask_gradient_top_70",
    "mask_gradient_top_fifth_75",
    "mask_top_third_75",
    "mask_top_third_95",
)


def builtin_mask(name: str) -> Image.Image:
    array = _mask_array(name)
    if array is None:
        raise RiffgenError(f"unknown mask image {name!r}")
    return Image.fromarray(np.round(array * 255).astype(np.uint8)).convert("RGB")
