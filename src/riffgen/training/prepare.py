"""``riffgen prepare-dataset``: audio folder -> Hugging Face ``imagefolder`` of spectrogram clips.

Layout written (loads with ``datasets.load_dataset("imagefolder", data_dir=OUT_DIR)`` and with
:func:`riffgen.training.data.SpectrogramDataset`)::

    OUT_DIR/train/<slug>-<hash>-<start ms>.png   one spectrogram image per clip
    OUT_DIR/train/metadata.jsonl                 file_name, text, caption, source, start_s, ...
    OUT_DIR/prepare_state.json                   settings + per-source bookkeeping (resume)

Re-running with the same settings skips every clip already written; ``metadata.jsonl`` only
ever lists images that exist and is replaced atomically, so an interrupted run leaves a usable
dataset behind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import soundfile as sf
from tqdm import tqdm

from riffgen.audio import SpectrogramParams, audio_to_image
from riffgen.audio.io import resample
from riffgen.errors import RiffgenError
from riffgen.files import atomic_path
from riffgen.training.captions import caption_for, load_caption_map

# Extensions libsndfile reads (MP3 needs libsndfile >= 1.1, which the soundfile wheels ship).
AUDIO_EXTENSIONS = frozenset(
    {
        ".wav",
        ".wave",
        ".flac",
        ".mp3",
        ".ogg",
        ".oga",
        ".opus",
        ".aif",
        ".aiff",
        ".au",
        ".caf",
        ".w64",
    }
)
SPLIT = "train"
METADATA = "metadata.jsonl"
STATE = "prepare_state.json"
STATE_VERSION = 1
# Resampling at clip edges rings; read this much extra either side and cut it off (s).
_EDGE_MARGIN_S = 0.05
# Rewrite metadata at most this often while running (s); always at the end.
_FLUSH_INTERVAL_S = 10.0


@dataclass(frozen=True)
class PrepareConfig:
    """Settings of ``prepare-dataset``. Durations in seconds, level in dBFS."""

    clip_seconds: float = 5.12
    hop_seconds: float | None = None  # None: clip_seconds (back-to-back clips)
    silence_dbfs: float = -50.0  # clips whose RMS level is below this are skipped
    params: SpectrogramParams = field(default_factory=SpectrogramParams)
    captions: Path | None = None  # CSV/JSON filename -> caption mapping
    progress: bool = True

    def __post_init__(self) -> None:
        if not self.clip_seconds > 0:
            raise RiffgenError(f"clip length must be > 0 s, got {self.clip_seconds}")
        if self.hop_seconds is not None and not self.hop_seconds > 0:
            raise RiffgenError(f"hop must be > 0 s, got {self.hop_seconds}")
        if self.width < 8:
            raise RiffgenError(
                f"clip of {self.clip_seconds} s is too short: the image needs at least 8 columns"
                f" of {self.params.step_size_ms} ms"
            )

    @property
    def hop(self) -> float:
        """Seconds between clip starts."""
        return self.clip_seconds if self.hop_seconds is None else self.hop_seconds

    @property
    def width(self) -> int:
        """Image columns per clip, rounded down to a multiple of 8 (the VAE downsamples by 8)."""
        columns = int(round(self.clip_seconds * 1000 / self.params.step_size_ms))
        return columns - columns % 8

    @property
    def clip_samples(self) -> int:
        """Samples per clip at the model rate: exactly ``width`` STFT frames (centre=True)."""
        return (self.width - 1) * self.params.hop_length

    def settings(self) -> dict[str, Any]:
        """What decides the images; a resumed run must use the same."""
        return {
            "clip_seconds": self.clip_seconds,
            "hop_seconds": self.hop,
            "silence_dbfs": self.silence_dbfs,
            "width": self.width,
            "spectrogram": dataclasses.asdict(self.params),
        }


@dataclass
class PrepareSummary:
    """Counts of one ``prepare_dataset`` run."""

    files: int = 0
    bad_files: list[str] = field(default_factory=list)
    short_files: int = 0  # shorter than one clip
    clips_written: int = 0
    clips_reused: int = 0
    clips_silent: int = 0
    total_clips: int = 0  # rows in metadata.jsonl afterwards

    def line(self) -> str:
        return (
            f"{self.total_clips} clips in dataset ({self.clips_written} new, {self.clips_reused}"
            f" already there, {self.clips_silent} silent skipped) from {self.files} files"
            + (f", {len(self.bad_files)} unreadable" if self.bad_files else "")
            + (f", {self.short_files} shorter than one clip" if self.short_files else "")
        )


def find_audio_files(audio_dir: Path) -> list[Path]:
    """Every audio file below ``audio_dir`` (recursive, hidden files skipped), sorted."""
    files = []
    for path in sorted(audio_dir.rglob("*")):
        rel = path.relative_to(audio_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file():
            files.append(path)
    return files


def clip_starts(duration_s: float, config: PrepareConfig) -> list[float]:
    """Start times (s) of every whole clip in ``duration_s`` seconds of audio."""
    clip_s = config.clip_samples / config.params.sample_rate
    if duration_s + 1e-6 < clip_s:
        return []
    count = int(math.floor((duration_s - clip_s) / config.hop + 1e-6)) + 1
    return [round(i * config.hop, 6) for i in range(count)]


def clip_file_name(relative: PurePosixPath, start_s: float) -> str:
    """Stable, unique image name for the clip of ``relative`` starting at ``start_s``."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", str(relative.with_suffix(""))).strip("_")[:60] or "clip"
    digest = hashlib.sha1(relative.as_posix().encode()).hexdigest()[:8]
    return f"{stem}-{digest}-{int(round(start_s * 1000)):08d}.png"


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level of float audio (full scale 1.0) in dBFS; -inf for digital silence."""
    mean_square = float(np.mean(np.square(samples, dtype=np.float64))) if samples.size else 0.0
    return 10 * math.log10(mean_square) if mean_square > 0 else -math.inf


def read_clip(path: Path, *, start_s: float, config: PrepareConfig) -> np.ndarray:
    """``config.clip_samples`` samples ``[channels, n]`` at the model rate from ``start_s``."""
    target_sr = config.params.sample_rate
    with sf.SoundFile(path) as f:
        sr = f.samplerate
        margin = int(round(_EDGE_MARGIN_S * sr))
        first = int(round(start_s * sr))
        lead = min(margin, first)
        want = int(math.ceil(config.clip_samples * sr / target_sr)) + lead + margin
        f.seek(first - lead)
        data = f.read(want, dtype="float32", always_2d=True).T
    if data.shape[1] == 0:
        raise RiffgenError(f"no audio at {start_s:.2f} s")
    data = resample(np.ascontiguousarray(data), sr, target_sr)
    lead_out = int(round(lead * target_sr / sr))
    clip = data[:, lead_out : lead_out + config.clip_samples]
    if clip.shape[1] < config.clip_samples:  # MP3 lengths are estimates; pad the last ms
        clip = np.pad(clip, ((0, 0), (0, config.clip_samples - clip.shape[1])))
    return np.ascontiguousarray(clip, dtype=np.float32)


def _load_rows(path: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # cannot happen with atomic writes; tolerate hand edits
        if isinstance(row, dict) and "file_name" in row:
            rows[str(row["file_name"])] = row
    return rows


def _write_rows(path: Path, rows: dict[str, dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for name in sorted(rows):
            f.write(json.dumps(rows[name], ensure_ascii=False) + "\n")


def _write_json(path: Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _load_state(out_dir: Path, config: PrepareConfig) -> dict[str, Any]:
    state_path = out_dir / STATE
    fresh = {"version": STATE_VERSION, "settings": config.settings(), "files": {}}
    if not state_path.is_file():
        return fresh
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return fresh
    old = state.get("settings")
    # JSON round trip so tuples/floats compare the same way.
    if old != json.loads(json.dumps(config.settings())):
        raise RiffgenError(
            f"{out_dir} was prepared with different settings ({_settings_diff(old, config)});"
            " use a new output folder or the same options"
        )
    state.setdefault("files", {})
    return state


def _settings_diff(old: Any, config: PrepareConfig) -> str:
    new = json.loads(json.dumps(config.settings()))
    if not isinstance(old, dict):
        return "unknown"
    flat_old = {**old, **(old.get("spectrogram") or {})}
    flat_new = {**new, **new["spectrogram"]}
    diffs = [
        f"{k} {flat_old.get(k)} -> {flat_new[k]}"
        for k in flat_new
        if k != "spectrogram" and flat_old.get(k) != flat_new[k]
    ]
    return ", ".join(diffs) or "format version"


def _fingerprint(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def prepare_dataset(
    audio_dir: str | Path,
    out_dir: str | Path,
    config: PrepareConfig | None = None,
    *,
    warn: Callable[[str], None] | None = None,
) -> PrepareSummary:
    """Slice every audio file in ``audio_dir`` into spectrogram clips under ``out_dir``.

    Unreadable files are reported through ``warn`` (default: stderr) and skipped. Raises
    :class:`RiffgenError` if ``audio_dir`` is missing or holds no audio files.
    """
    config = config or PrepareConfig()
    audio_dir, out_dir = Path(audio_dir), Path(out_dir)
    warn = warn or (lambda msg: print(f"riffgen: {msg}", file=sys.stderr))
    if not audio_dir.is_dir():
        raise RiffgenError(f"audio folder not found: {audio_dir}")
    files = find_audio_files(audio_dir)
    if not files:
        raise RiffgenError(
            f"no audio files in {audio_dir} (looked for {', '.join(sorted(AUDIO_EXTENSIONS))})"
        )
    mapping = load_caption_map(config.captions) if config.captions else None
    out_dir.mkdir(parents=True, exist_ok=True)
    split_dir = out_dir / SPLIT
    split_dir.mkdir(exist_ok=True)
    state = _load_state(out_dir, config)
    metadata_path = split_dir / METADATA
    # Only rows whose image exists: the dataset must never point at missing files.
    rows = {n: r for n, r in _load_rows(metadata_path).items() if (split_dir / n).is_file()}
    summary = PrepareSummary(files=len(files))

    plans = list(_plan(files, audio_dir, config, summary, warn))
    last_flush = time.monotonic()
    bar = tqdm(
        total=sum(len(starts) for _, _, starts in plans),
        unit="clip",
        desc="preparing",
        disable=not config.progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    try:
        for path, relative, starts in plans:
            caption, caption_source = caption_for(relative, audio_path=path, mapping=mapping)
            base_row = {
                "text": caption,
                "caption": caption,
                "caption_source": caption_source,
                "source": relative.as_posix(),
            }
            known = state["files"].get(relative.as_posix())
            unchanged = bool(known) and known.get("fingerprint") == _fingerprint(path)
            try:
                names, silent = _prepare_file(
                    path,
                    starts,
                    relative=relative,
                    base_row=base_row,
                    rows=rows,
                    split_dir=split_dir,
                    config=config,
                    summary=summary,
                    known_silent=set(known.get("silent", [])) if unchanged else set(),
                    bar=bar,
                )
            except Exception as exc:  # one bad file never stops the run
                summary.bad_files.append(relative.as_posix())
                warn(f"skipping {relative.as_posix()}: {_reason(exc)}")
                continue
            state["files"][relative.as_posix()] = {
                "fingerprint": _fingerprint(path),
                "clips": names,
                "silent": silent,
            }
            if time.monotonic() - last_flush > _FLUSH_INTERVAL_S:
                _flush(metadata_path, rows, out_dir / STATE, state)
                last_flush = time.monotonic()
    finally:
        bar.close()
        _flush(metadata_path, rows, out_dir / STATE, state)
    summary.total_clips = len(rows)
    return summary


def _flush(
    metadata_path: Path, rows: dict[str, dict[str, Any]], state_path: Path, state: dict[str, Any]
) -> None:
    _write_rows(metadata_path, rows)
    _write_json(state_path, state)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text


def _plan(
    files: list[Path],
    audio_dir: Path,
    config: PrepareConfig,
    summary: PrepareSummary,
    warn: Callable[[str], None],
) -> Iterator[tuple[Path, PurePosixPath, list[float]]]:
    """``(path, relative path, clip starts)`` for every readable file; reports the others."""
    for path in files:
        relative = PurePosixPath(path.relative_to(audio_dir).as_posix())
        try:
            info = sf.info(str(path))
            if info.frames <= 0 or info.samplerate <= 0:
                raise RiffgenError("no audio frames")
            duration = info.frames / info.samplerate
        except Exception as exc:
            summary.bad_files.append(relative.as_posix())
            warn(f"skipping {relative.as_posix()}: cannot read as audio ({_reason(exc)})")
            continue
        starts = clip_starts(duration, config)
        if not starts:
            summary.short_files += 1
        yield path, relative, starts


def _prepare_file(
    path: Path,
    starts: list[float],
    *,
    relative: PurePosixPath,
    base_row: dict[str, Any],
    rows: dict[str, dict[str, Any]],
    split_dir: Path,
    config: PrepareConfig,
    summary: PrepareSummary,
    known_silent: set[str],
    bar: tqdm,
) -> tuple[list[str], list[str]]:
    """Write the clips of one file; returns (clip names in the dataset, silent clip names)."""
    names: list[str] = []
    silent: list[str] = []
    params = dataclasses.asdict(config.params)
    duration_s = round(config.clip_samples / config.params.sample_rate, 6)
    pending: dict[str, dict[str, Any]] = {}
    for start in starts:
        name = clip_file_name(relative, start)
        bar.update(1)
        if name in known_silent:
            silent.append(name)
            summary.clips_silent += 1
            continue
        if name in rows and (split_dir / name).is_file():
            # Already done: keep the row, refresh what may have changed (captions).
            pending[name] = {**rows[name], **base_row}
            names.append(name)
            summary.clips_reused += 1
            continue
        clip = read_clip(path, start_s=start, config=config)
        level = rms_dbfs(clip)
        if level < config.silence_dbfs:
            silent.append(name)
            summary.clips_silent += 1
            continue
        image = audio_to_image(clip, config.params.sample_rate, config.params)
        with atomic_path(split_dir / name) as tmp:
            image.save(tmp, format="PNG", exif=image.info.get("exif", b""))
        pending[name] = {
            "file_name": name,
            **base_row,
            "start_s": start,
            "duration_s": duration_s,
            "rms_dbfs": round(level, 2),
            "spectrogram": params,
        }
        names.append(name)
        summary.clips_written += 1
    # Rows enter the dataset only once the whole file went through, in step with the per-file
    # state; after a failure midway the next run simply rewrites that file's images.
    rows.update(pending)
    return names, silent
