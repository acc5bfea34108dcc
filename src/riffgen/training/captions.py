"""Captions for training clips: a mapping file, sidecar .txt files, or the file and folder names."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from riffgen.errors import RiffgenError

# Column names accepted in a captions CSV (first match wins), lower-cased.
_FILE_COLUMNS = ("file_name", "filename", "file", "path", "audio", "name")
_CAPTION_COLUMNS = ("caption", "text", "prompt", "description")


def load_caption_map(path: str | Path) -> dict[str, str]:
    """Read a filename -> caption mapping from a CSV or JSON file.

    CSV: a header naming a file column (file_name/filename/file/path/audio) and a caption
    column (caption/text/prompt), or two columns without a header. JSON: an object
    ``{"jazz/sax.wav": "smooth jazz"}`` or a list of ``{"file_name": ..., "caption": ...}``.
    Keys may be paths relative to the audio folder, bare file names, or stems.
    """
    path = Path(path)
    if not path.is_file():
        raise RiffgenError(f"captions file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RiffgenError(f"cannot read captions file {path}: {exc}") from None
    if path.suffix.lower() in (".json", ".jsonl"):
        mapping = _parse_json(text, path)
    else:
        mapping = _parse_csv(text, path)
    return {_normalise_key(k): str(v).strip() for k, v in mapping.items() if str(v).strip()}


def _parse_json(text: str, path: Path) -> dict[str, str]:
    try:
        if path.suffix.lower() == ".jsonl":
            data: object = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RiffgenError(f"captions file {path} is not valid JSON: {exc}") from None
    if isinstance(data, Mapping):
        return {str(k): str(v) for k, v in data.items()}
    if isinstance(data, list):
        out: dict[str, str] = {}
        for row in data:
            if not isinstance(row, Mapping):
                raise RiffgenError(f"captions file {path}: list entries must be objects")
            out[str(_pick(row, _FILE_COLUMNS, path))] = str(_pick(row, _CAPTION_COLUMNS, path))
        return out
    raise RiffgenError(f"captions file {path} must hold an object or a list of objects")


def _parse_csv(text: str, path: Path) -> dict[str, str]:
    rows = [r for r in csv.reader(text.splitlines()) if r and any(c.strip() for c in r)]
    if not rows:
        return {}
    header = [c.strip().lower() for c in rows[0]]
    file_col = next((header.index(c) for c in _FILE_COLUMNS if c in header), None)
    caption_col = next((header.index(c) for c in _CAPTION_COLUMNS if c in header), None)
    if file_col is None or caption_col is None:
        file_col, caption_col = 0, 1  # no recognised header: "file,caption" rows
    else:
        rows = rows[1:]
    out: dict[str, str] = {}
    for row in rows:
        if len(row) <= max(file_col, caption_col):
            raise RiffgenError(f"captions file {path}: row {row!r} has no caption column")
        out[row[file_col].strip()] = row[caption_col]
    return out


def _pick(row: Mapping[str, object], names: tuple[str, ...], path: Path) -> object:
    lowered = {str(k).lower(): v for k, v in row.items()}
    for name in names:
        if name in lowered:
            return lowered[name]
    raise RiffgenError(f"captions file {path}: entry {dict(row)!r} lacks one of {names}")


def _normalise_key(key: str) -> str:
    return PurePosixPath(key.strip().replace("\\", "/")).as_posix().lstrip("./")


def caption_for(
    relative: PurePosixPath, *, audio_path: Path, mapping: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """Caption of one audio file -> ``(caption, source)``, source being map, sidecar or name.

    ``relative`` is the file's path below the audio folder. Lookup order: the mapping (by
    relative path, then file name, then stem), a sidecar ``<stem>.txt`` beside the audio,
    then the folder and file names.
    """
    if mapping:
        for key in (
            relative.as_posix(),
            relative.name,
            relative.stem,
            str(relative.with_suffix("")),
        ):
            if key in mapping:
                return mapping[key], "map"
    sidecar = audio_path.with_suffix(".txt")
    if sidecar.is_file():
        try:
            text = " ".join(sidecar.read_text(encoding="utf-8-sig").split())
        except (OSError, UnicodeDecodeError):
            text = ""
        if text:
            return text, "sidecar"
    return caption_from_name(relative), "name"


def caption_from_name(relative: PurePosixPath) -> str:
    """``jazz/smooth_sax_01.wav`` -> ``"jazz, smooth sax"``: folders then the cleaned stem."""
    parts = [*relative.parent.parts, relative.stem]
    words = [_clean(p) for p in parts if p not in ("", ".")]
    return ", ".join(w for w in words if w)


def _clean(name: str) -> str:
    text = re.sub(r"[_\-.]+", " ", name)
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)  # camelCase -> camel Case
    # Numbering ("01", "take2" stays) carries no meaning for a caption.
    tokens = [t for t in text.split() if not t.isdigit()]
    return " ".join(tokens).lower()
