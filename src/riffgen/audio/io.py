"""Reading and writing audio files; every sample rate, mono or stereo."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from riffgen.errors import RiffgenError
from riffgen.files import atomic_path

WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".mp3": "MP3", ".ogg": "OGG"}


def load_audio(
    path: str | os.PathLike[str],
    *,
    sample_rate: int | None = None,
    start: float = 0.0,
    duration: float | None = None,
    mono: bool = False,
) -> tuple[np.ndarray, int]:
    """Read ``path`` -> ``(samples float32 [channels, n], sample_rate)``.

    ``start`` and ``duration`` are in seconds; ``sample_rate`` (Hz) resamples with soxr.
    """
    path = Path(path)
    if not path.exists():
        raise RiffgenError(f"audio file not found: {path}")
    if not path.is_file():
        raise RiffgenError(f"not a file: {path}")
    if start < 0:
        raise RiffgenError(f"start must be >= 0 s, got {start}")
    if duration is not None and duration <= 0:
        raise RiffgenError(f"duration must be > 0 s, got {duration}")
    try:
        with sf.SoundFile(path) as f:
            sr = f.samplerate
            first = int(round(start * sr))
            if first >= f.frames > 0 or (f.frames > 0 and first > f.frames):
                raise RiffgenError(
                    f"start {start} s is past the end of {path.name} ({f.frames / sr:.2f} s)"
                )
            f.seek(min(first, max(f.frames, 0)))
            frames = -1 if duration is None else int(round(duration * sr))
            data = f.read(frames, dtype="float32", always_2d=True)
    except RiffgenError:
        raise
    except Exception as exc:
        raise RiffgenError(f"cannot read {path} as audio: {_one_line(exc)}") from None
    samples = np.ascontiguousarray(data.T)
    if samples.shape[1] == 0:
        raise RiffgenError(f"no audio in {path} (empty or zero-length selection)")
    if mono and samples.shape[0] > 1:
        samples = samples.mean(axis=0, keepdims=True)
    if sample_rate is not None and sample_rate != sr:
        samples, sr = resample(samples, sr, sample_rate), sample_rate
    return samples.astype(np.float32, copy=False), sr


def audio_info(path: str | os.PathLike[str]) -> dict[str, object]:
    """Format, sample rate (Hz), channels and duration (s) of an audio file, without decoding it."""
    path = Path(path)
    if not path.is_file():
        raise RiffgenError(f"audio file not found: {path}")
    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise RiffgenError(f"cannot read {path} as audio: {_one_line(exc)}") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise RiffgenError(f"cannot read {path} as audio: no audio frames")
    return {
        "file": str(path),
        "type": "audio",
        "format": f"{info.format} ({info.subtype})",
        "sample_rate": info.samplerate,
        "channels": info.channels,
        "frames": info.frames,
        "duration": f"{info.frames / info.samplerate:.2f} s",
    }


@dataclass(frozen=True)
class AudioProbe:
    """What an audio file's header states: format, rate (Hz), channels and length in frames."""

    format: str
    subtype: str
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


def probe_audio(source: str | os.PathLike[str] | BinaryIO) -> AudioProbe:
    """Read only the header of an audio file (a path or a binary file object).

    A few hundred KB of FLAC can hold an hour of silence, so callers with limits check the
    length here before decoding anything. A file object is left at an unspecified position.
    """
    try:
        with sf.SoundFile(source) as f:
            probe = AudioProbe(f.format, f.subtype, f.samplerate, f.channels, f.frames)
    except Exception as exc:  # libsndfile raises a zoo of types for broken files
        raise RiffgenError(f"not a readable audio file ({_one_line(exc)})") from None
    if probe.sample_rate <= 0 or probe.channels <= 0:
        raise RiffgenError("not a readable audio file (no sample rate or channels)")
    return probe


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def resample(samples: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """High-quality resampling (soxr) of ``[channels, n]`` float audio."""
    if orig_sr == target_sr:
        return samples
    out = soxr.resample(np.ascontiguousarray(samples.T), orig_sr, target_sr, quality="HQ")
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).reshape(-1, samples.shape[0]).T)


def save_audio(path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int) -> Path:
    """Write ``[channels, n]`` (or ``[n]``) float audio; the format follows the extension.

    WAV is 16-bit PCM, FLAC 16-bit, MP3 and OGG lossy. Written atomically.
    """
    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RiffgenError(
            f"cannot write {path.suffix or 'files without extension'}: use one of "
            + ", ".join(sorted(WRITE_FORMATS))
        )
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[None]
    if samples.ndim != 2 or samples.shape[1] == 0:
        raise RiffgenError(f"expected audio shaped [channels, samples], got {samples.shape}")
    subtype = {"WAV": "PCM_16", "FLAC": "PCM_16", "MP3": None, "OGG": "VORBIS"}[fmt]
    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(samples.T, -1.0, 1.0), sample_rate, format=fmt, subtype=subtype)
    return path
