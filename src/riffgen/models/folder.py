"""The riffgen model folder: the diffusers layout plus ``riffgen.json``.

::

    model_index.json          component classes (diffusers' StableDiffusionPipeline layout)
    unet/ vae/ scheduler/     diffusers components
    text_encoder/ tokenizer/  transformers components, or only a marker naming a packaged
                              encoder (riffgen.models.text)
    riffgen.json              {"spectrogram": {...SpectrogramParams fields...},
                               "defaults": {"steps": N}}   (optional: the model's own
                                                           recommended generation settings)

A single ``NAME.safetensors`` checkpoint may have ``NAME.riffgen.json`` beside it. This module
is the only reader and writer of both files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from riffgen.audio import SpectrogramParams
from riffgen.errors import RiffgenError
from riffgen.files import atomic_path

RIFFGEN_CONFIG = "riffgen.json"
MODEL_INDEX = "model_index.json"
SIDECAR_SUFFIX = ".riffgen.json"
# The settings a model may recommend for itself (``riffgen.json``'s "defaults"), each with
# the inclusive range it must lie in. A model without one gets riffgen's own default.
DEFAULT_KEYS: dict[str, tuple[int, int]] = {"steps": (1, 1000)}


def model_index(*, packaged_text: bool) -> dict[str, Any]:
    """``model_index.json`` of a riffgen model: CLIP text encoder, or the packaged MiniLM."""
    text_encoder, tokenizer = (
        ("BertModel", "BertTokenizer") if packaged_text else ("CLIPTextModel", "CLIPTokenizer")
    )
    return {
        "_class_name": "StableDiffusionPipeline",
        "feature_extractor": [None, None],
        "safety_checker": [None, None],
        "requires_safety_checker": False,
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", text_encoder],
        "tokenizer": ["transformers", tokenizer],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }


def read_model_index(model_dir: Path) -> dict[str, Any]:
    return _json_object(Path(model_dir) / MODEL_INDEX)


def _json_object(path: Path) -> dict[str, Any]:
    """``path``'s JSON object; a missing or unreadable file or another JSON value is an error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RiffgenError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise RiffgenError(f"cannot read {path}: not a JSON object")
    return data


def _params_from_json(path: Path) -> SpectrogramParams:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SpectrogramParams(**data.get("spectrogram", {}))
    except (OSError, json.JSONDecodeError, TypeError, AttributeError) as exc:
        raise RiffgenError(f"cannot read {path}: {exc}") from None


def _read_json(path: Path) -> dict[str, Any]:
    """``path``'s JSON object; {} when there is no file."""
    return _json_object(path) if path.is_file() else {}


def _params_json(params: SpectrogramParams, defaults: dict[str, Any] | None = None) -> str:
    fields = {name: getattr(params, name) for name in params.__dataclass_fields__}
    data: dict[str, Any] = {"spectrogram": fields}
    if defaults:
        data["defaults"] = dict(defaults)
    return json.dumps(data, indent=2) + "\n"


def check_defaults(defaults: Any, *, where: str) -> dict[str, Any]:
    """``defaults`` validated (see :data:`DEFAULT_KEYS`); one RiffgenError naming ``where``."""
    if not isinstance(defaults, dict):
        raise RiffgenError(f'{where}: "defaults" must be a JSON object, got {defaults!r}')
    unknown = sorted(set(defaults) - set(DEFAULT_KEYS))
    if unknown:
        raise RiffgenError(
            f'{where}: unknown key(s) in "defaults": {", ".join(map(repr, unknown))}'
            f" (known: {', '.join(DEFAULT_KEYS)})"
        )
    for key, value in defaults.items():
        low, high = DEFAULT_KEYS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise RiffgenError(
                f'{where}: "defaults".{key} must be an integer from {low} to {high}, got {value!r}'
            )
    return dict(defaults)


def read_model_defaults(model_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The generation settings the model recommends (``riffgen.json``'s "defaults", e.g.
    ``{"steps": 20}``); {} when it names none. Bad values raise one RiffgenError."""
    path = Path(model_dir) / RIFFGEN_CONFIG
    data = _read_json(path)
    if "defaults" not in data:
        return {}
    return check_defaults(data["defaults"], where=str(path))


def read_spectrogram_params(model_dir: str | os.PathLike[str]) -> SpectrogramParams:
    """The model's spectrogram parameters (``riffgen.json``); riffusion's defaults if absent."""
    path = Path(model_dir) / RIFFGEN_CONFIG
    return _params_from_json(path) if path.is_file() else SpectrogramParams()


def write_spectrogram_params(model_dir: str | os.PathLike[str], params: SpectrogramParams) -> None:
    """Write ``riffgen.json`` (atomically) in the format :func:`read_spectrogram_params` reads.

    The model's "defaults" already in the file are kept.
    """
    path = Path(model_dir) / RIFFGEN_CONFIG
    defaults = read_model_defaults(model_dir)
    with atomic_path(path) as tmp:
        tmp.write_text(_params_json(params, defaults), encoding="utf-8")


def write_model_defaults(model_dir: str | os.PathLike[str], defaults: dict[str, Any]) -> None:
    """Set the model's recommended settings in ``riffgen.json`` (atomically; replaces the
    previous "defaults", {} removes them; the spectrogram parameters are kept)."""
    path = Path(model_dir) / RIFFGEN_CONFIG
    defaults = check_defaults(defaults, where=str(path))
    data = _read_json(path)
    data.pop("defaults", None)
    if defaults:
        data["defaults"] = defaults
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def sidecar_path(checkpoint: str | os.PathLike[str]) -> Path:
    path = Path(checkpoint)
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def read_sidecar(checkpoint: str | os.PathLike[str]) -> SpectrogramParams:
    """A single file's ``NAME.riffgen.json`` parameters; riffusion's defaults if absent."""
    path = sidecar_path(checkpoint)
    return _params_from_json(path) if path.is_file() else SpectrogramParams()


def write_sidecar(checkpoint: str | os.PathLike[str], params: SpectrogramParams) -> Path:
    path = sidecar_path(checkpoint)
    with atomic_path(path) as tmp:
        tmp.write_text(_params_json(params), encoding="utf-8")
    return path
