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
    """Procedural versions of the original app's masks (white = repaint, grey = keep partly)."""
    rows = np.arange(512, dtype=np.float32)[:, None] / 511.0  # 0 at the top (high frequencies)
    if name in ("mask_top_third_75", "mask_top_third_95"):
        level = 0.75 if name.endswith("75") else 0.95
        return np.where(rows < 1 / 3, level, 1.0) * np.ones((1, 512), np.float32)
    if name in ("mask_gradient_top_70", "mask_gradient_top_fifth_75", "mask_gradient_dark"):
        start, span = {
            "mask_gradient_top_70": (0.65, 0.5),
            "mask_gradient_top_fifth_75": (0.65, 0.2),
            "mask_gradient_dark": (0.12, 0.55),
        }[name]
        ramp = np.clip(rows / span, 0.0, 1.0)
        return (start + (1.0 - start) * np.sin(ramp * np.pi / 2)) * np.ones((1, 512), np.float32)
    return None


MASK_NAMES = (
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
