"""Spectrogram parameters, with the original Riffusion defaults and EXIF tag numbers."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from riffgen.audio.limits import check_params
from riffgen.errors import RiffgenError


class ExifTag(IntEnum):
    """EXIF tag numbers used by riffusion-model-v1 images (kept identical)."""

    SAMPLE_RATE = 11000
    STEREO = 11005
    STEP_SIZE_MS = 11010
    WINDOW_DURATION_MS = 11020
    PADDED_DURATION_MS = 11030
    NUM_FREQUENCIES = 11040
    MIN_FREQUENCY = 11050
    MAX_FREQUENCY = 11060
    POWER_FOR_IMAGE = 11070
    MAX_VALUE = 11080


@dataclass(frozen=True)
class SpectrogramParams:
    """How audio maps to a spectrogram image. Defaults equal the original Riffusion's.

    Durations are in milliseconds, frequencies in Hz.
    """

    stereo: bool = False
    sample_rate: int = 44100
    step_size_ms: int = 10
    window_duration_ms: int = 100
    padded_duration_ms: int = 400
    num_frequencies: int = 512
    min_frequency: int = 0
    max_frequency: int = 10000
    power_for_image: float = 0.25
    num_griffin_lim_iters: int = 32

    def __post_init__(self) -> None:
        self.validate()
        # Whole-number floats (e.g. from JSON) become ints: every size computed from them is.
        for field in dataclasses.fields(self):
            if field.type == "int":
                object.__setattr__(self, field.name, int(getattr(self, field.name)))

    def validate(self) -> None:
        """Raise :class:`RiffgenError` naming the first impossible or unbounded value.

        The bounds (sample rate 8-192 kHz, at most 1024 mel bins, FFTs of at most 65536
        samples, at most 1000 Griffin-Lim iterations, ...) are in :mod:`riffgen.audio.limits`.
        """
        check_params(self)

    @property
    def n_fft(self) -> int:
        """FFT size in samples (the padded window)."""
        return int(self.padded_duration_ms / 1000.0 * self.sample_rate)

    @property
    def win_length(self) -> int:
        """Window length in samples."""
        return int(self.window_duration_ms / 1000.0 * self.sample_rate)

    @property
    def hop_length(self) -> int:
        """Hop between image columns in samples."""
        return int(self.step_size_ms / 1000.0 * self.sample_rate)

    def num_samples(self, width: int) -> int:
        """Samples of audio an image ``width`` columns wide decodes to."""
        return max(width - 1, 0) * self.hop_length

    def width_for_duration(self, seconds: float) -> int:
        """Image width (columns) that covers ``seconds`` of audio."""
        return int(round(seconds * self.sample_rate / self.hop_length)) + 1

    def replace(self, **changes: Any) -> SpectrogramParams:
        return dataclasses.replace(self, **changes)

    def to_exif(self) -> dict[int, Any]:
        """EXIF tags, same numbers and value types as the original."""
        return {
            ExifTag.SAMPLE_RATE: int(self.sample_rate),
            ExifTag.STEREO: int(bool(self.stereo)),
            ExifTag.STEP_SIZE_MS: int(self.step_size_ms),
            ExifTag.WINDOW_DURATION_MS: int(self.window_duration_ms),
            ExifTag.PADDED_DURATION_MS: int(self.padded_duration_ms),
            ExifTag.NUM_FREQUENCIES: int(self.num_frequencies),
            ExifTag.MIN_FREQUENCY: int(self.min_frequency),
            ExifTag.MAX_FREQUENCY: int(self.max_frequency),
            ExifTag.POWER_FOR_IMAGE: float(self.power_for_image),
        }

    @classmethod
    def from_exif(cls, exif: Mapping[int, Any] | None) -> SpectrogramParams:
        """Parameters from EXIF tags; any tag that is absent or unreadable keeps its default."""
        exif = exif or {}
        fields = {
            "sample_rate": (ExifTag.SAMPLE_RATE, int),
            "stereo": (ExifTag.STEREO, lambda v: bool(int(v))),
            "step_size_ms": (ExifTag.STEP_SIZE_MS, int),
            "window_duration_ms": (ExifTag.WINDOW_DURATION_MS, int),
            "padded_duration_ms": (ExifTag.PADDED_DURATION_MS, int),
            "num_frequencies": (ExifTag.NUM_FREQUENCIES, int),
            "min_frequency": (ExifTag.MIN_FREQUENCY, int),
            "max_frequency": (ExifTag.MAX_FREQUENCY, int),
            "power_for_image": (ExifTag.POWER_FOR_IMAGE, float),
        }
        values: dict[str, Any] = {}
        for name, (tag, convert) in fields.items():
            raw = exif.get(int(tag))
            if raw is None:
                continue
            try:
                values[name] = convert(raw)
            except (TypeError, ValueError, OverflowError):  # e.g. int(inf), int(b"x")
                continue
        # Zero or missing values (the original wrote 0 for unknown) fall back to defaults.
        values = {k: v for k, v in values.items() if v or k in ("stereo", "min_frequency")}
        try:
            return cls(**values)
        except RiffgenError as exc:
            raise RiffgenError(
                f"image metadata holds impossible spectrogram parameters: {exc}"
            ) from None
