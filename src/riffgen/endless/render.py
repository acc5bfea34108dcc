"""Offline rendering of a jam to disk: exact duration, streamed, survives Ctrl-C.

Audio frames go straight into a temporary sound file beside the output, the stitched
spectrogram into a disk-backed array and the clip log into a temporary JSON file, so memory
stays flat however long the piece. On success or KeyboardInterrupt the temporaries are
finalised and renamed into place (an interrupted render keeps what was made, with a short
fade-out); on any other error they are removed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from PIL import Image

from riffgen.audio.image import params_from_image
from riffgen.audio.io import WRITE_FORMATS
from riffgen.audio.mix import fade_out
from riffgen.audio.params import ExifTag
from riffgen.endless.engine import JamClip, JamEngine
from riffgen.errors import RiffgenError
from riffgen.files import atomic_path

END_FADE_MS = 30.0


@dataclass
class RenderResult:
    audio_path: Path
    image_path: Path | None
    log_path: Path | None
    samples: int
    sample_rate: int
    clips: int
    interrupted: bool

    @property
    def duration_s(self) -> float:
        return self.samples / self.sample_rate


def _temp_beside(path: Path, suffix: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(name)


class _SpectrogramStrip:
    """Columns of every clip's image, side by side, in a disk-backed uint8 array."""

    def __init__(self, path: Path, *, height: int, width: int) -> None:
        self.path = path
        self.columns = np.lib.format.open_memmap(
            path, mode="w+", dtype=np.uint8, shape=(height, max(width, 1))
        )
        self.filled = 0

    def add(self, image: Image.Image, count: int) -> None:
        count = min(count, self.columns.shape[1] - self.filled, image.width)
        if count <= 0:
            return
        gray = np.asarray(image.convert("RGB"), dtype=np.uint8)[:, :count, 0]
        if gray.shape[0] != self.columns.shape[0]:
            gray = np.asarray(Image.fromarray(gray).resize((count, self.columns.shape[0])))
        self.columns[:, self.filled : self.filled + count] = gray
        self.filled += count

    def save(self, path: Path, exif: Image.Exif | None) -> None:
        self.columns.flush()
        image = Image.fromarray(
            np.ascontiguousarray(self.columns[:, : max(self.filled, 1)]), mode="L"
        )
        with atomic_path(path) as tmp:
            kwargs: dict[str, Any] = {"exif": exif.tobytes()} if exif is not None else {}
            image.save(tmp, format="PNG", **kwargs)

    def close(self) -> None:
        del self.columns
        self.path.unlink(missing_ok=True)


def output_format(path: str | os.PathLike[str]) -> str:
    """The sound-file format for ``path``; streaming needs WAV, FLAC or OGG (not MP3)."""
    fmt = WRITE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None or fmt == "MP3":
        raise RiffgenError(f"jam output must be .wav, .flac or .ogg, got {Path(path).name}")
    return fmt


def render_jam(
    engine: JamEngine,
    out_path: str | os.PathLike[str],
    *,
    duration_s: float,
    image_path: str | os.PathLike[str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    header: dict[str, Any] | None = None,
    on_clip: Callable[[JamClip, int], None] | None = None,
) -> RenderResult:
    """Render exactly ``duration_s`` seconds of ``engine`` to ``out_path`` (WAV/FLAC/OGG).

    ``image_path`` gets the stitched spectrogram (PNG, 10 ms per column), ``log_path`` a JSON
    log of every clip's parameters (plus ``header``). ``on_clip(clip, samples_written)`` is
    called after each clip (progress bars). A KeyboardInterrupt ends the render early with
    valid files (``interrupted`` in the result and the log); it is not re-raised.
    """
    out_path = Path(out_path)
    fmt = output_format(out_path)
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise RiffgenError(f"duration must be > 0 s, got {duration_s}")
    sr = engine.sample_rate
    total = int(round(duration_s * sr))
    end_fade = int(round(END_FADE_MS / 1000 * sr))
    subtype = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS"}[fmt]
    hop = engine.params.hop_length

    temps: list[Path] = []
    wav_tmp = _temp_beside(out_path, out_path.suffix)
    temps.append(wav_tmp)
    strip: _SpectrogramStrip | None = None
    strip_exif: Image.Exif | None = None
    log_tmp = None
    log_file = None
    if log_path is not None:
        log_tmp = _temp_beside(Path(log_path), ".json")
        temps.append(log_tmp)
        log_file = log_tmp.open("w")
        head = {"duration_s": duration_s, "sample_rate": sr, **(header or {})}
        # Streamed JSON: an object whose last key is the clip list, closed at the end.
        log_file.write(json.dumps(head, indent=1)[:-2] + ',\n "clips": [\n')

    written = 0
    clips = 0
    interrupted = False
    sound: sf.SoundFile | None = None
    first_entry = True
    try:
        try:
            for clip in engine.clips():
                if sound is None:
                    sound = sf.SoundFile(
                        wav_tmp, "w", sr, clip.audio.shape[0], subtype=subtype, format=fmt
                    )
                    if image_path is not None:
                        # Sized from the first clip: the model's mel count may differ from the seed's.
                        strip_tmp = _temp_beside(Path(image_path), ".npy")
                        temps.append(strip_tmp)
                        strip = _SpectrogramStrip(
                            strip_tmp, height=clip.image.height, width=total // hop + 1
                        )
                        strip_exif = _strip_exif(clip.image)
                take = min(total - written, clip.audio.shape[-1])
                segment = clip.audio[:, :take]
                if written + take >= total:
                    segment = fade_out(segment, end_fade)
                sound.write(np.clip(segment.T, -1.0, 1.0))
                if strip is not None:
                    strip.add(clip.image, (written + take) // hop - written // hop)
                written += take
                clips += 1
                if log_file is not None:
                    log_file.write(
                        ("" if first_entry else ",\n") + "  " + json.dumps(clip.to_dict())
                    )
                    first_entry = False
                if on_clip is not None:
                    on_clip(clip, written)
                if written >= total:
                    break
        except KeyboardInterrupt:
            interrupted = True
            if sound is not None and written < total:
                # What is left of the last crossfade, faded out: the file ends cleanly.
                tail = engine.finish()[:, : total - written]
                sound.write(np.clip(tail.T, -1.0, 1.0))
                written += tail.shape[-1]
        if sound is None:
            if interrupted:
                raise KeyboardInterrupt  # nothing was made: nothing to keep
            raise RiffgenError("the jam produced no audio")
        sound.close()
        os.replace(wav_tmp, out_path)
        temps.remove(wav_tmp)
        if strip is not None and image_path is not None:
            strip.save(Path(image_path), strip_exif)
        if log_file is not None and log_tmp is not None and log_path is not None:
            summary = {
                "samples": written,
                "written_s": written / sr,
                "clips": clips,
                "interrupted": interrupted,
            }
            log_file.write('\n ],\n "result": ' + json.dumps(summary) + "\n}\n")
            log_file.close()
            os.replace(log_tmp, log_path)
            temps.remove(log_tmp)
    finally:
        if sound is not None and not sound.closed:
            sound.close()
        if log_file is not None and not log_file.closed:
            log_file.close()
        if strip is not None:
            strip.close()
        for tmp in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()
    return RenderResult(
        audio_path=out_path,
        image_path=Path(image_path) if image_path is not None else None,
        log_path=Path(log_path) if log_path is not None else None,
        samples=written,
        sample_rate=sr,
        clips=clips,
        interrupted=interrupted,
    )


def _strip_exif(image: Image.Image) -> Image.Exif:
    """The spectrogram EXIF of the clips, so the wide PNG decodes back to audio."""
    exif = Image.Exif()
    for tag, value in params_from_image(image).to_exif().items():
        exif[int(tag)] = value
    exif[int(ExifTag.MAX_VALUE)] = 30e6
    return exif
