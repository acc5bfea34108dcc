"""Vocoder weights on disk: one safetensors file with the config in its metadata."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import torch

from riffgen.audio.vocoder.model import Vocoder, VocoderConfig
from riffgen.errors import RiffgenError

FORMAT = "riffgen-vocoder"
FORMAT_VERSION = "1"
# Shipped with the package (src/riffgen/data/vocoder/), built by `make train-decoder`.
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "data" / "vocoder" / "vocoder.safetensors"


def save_vocoder(
    path: str | os.PathLike[str], model: Vocoder, *, dtype: torch.dtype = torch.float16
) -> Path:
    """Write ``model`` to ``path`` (safetensors, tensors as ``dtype``; fp16 halves the file)."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "config": json.dumps(model.config.to_json()),
    }
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return path


def load_vocoder(path: str | os.PathLike[str] | None = None) -> Vocoder:
    """The vocoder stored at ``path`` (default: ``$RIFFGEN_VOCODER``, else the shipped
    weights), in fp32 eval mode.

    Cached per path and modification time. Raises :class:`RiffgenError` with one line when
    the file is missing, is not a safetensors file, or is not riffgen vocoder weights.
    """
    if path is None:
        path = os.environ.get("RIFFGEN_VOCODER") or DEFAULT_WEIGHTS
    path = Path(path)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise RiffgenError(f"vocoder weights not found: {path}") from None
    return _load(str(path), stamp)


@lru_cache(maxsize=4)
def _load(path: str, stamp: int) -> Vocoder:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError) as exc:
        raise RiffgenError(f"vocoder weights {path} are unreadable: {_first_line(exc)}") from None
    if metadata.get("format") != FORMAT:
        raise RiffgenError(f"{path} is not riffgen vocoder weights (no '{FORMAT}' metadata)")
    if metadata.get("version") != FORMAT_VERSION:
        raise RiffgenError(
            f"vocoder weights {path} have format version {metadata.get('version')!r}; "
            f"this riffgen reads version {FORMAT_VERSION}"
        )
    try:
        config = VocoderConfig.from_json(json.loads(metadata["config"]))
        # Shapes first, on the meta device (no memory): a config that names a huge network
        # must be refused before its parameters are allocated, not after.
        with torch.device("meta"):
            shapes = {k: tuple(v.shape) for k, v in Vocoder(config).state_dict().items()}
        stored = {k: tuple(v.shape) for k, v in tensors.items()}
        if shapes != stored:
            raise ValueError(_shape_mismatch(shapes, stored))
        model = Vocoder(config)
        model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise RiffgenError(
            f"vocoder weights {path} do not match their config: {_first_line(exc)}"
        ) from None
    if not all(bool(torch.isfinite(t).all()) for t in model.state_dict().values()):
        raise RiffgenError(f"vocoder weights {path} hold NaN or infinite values")
    return model.eval().requires_grad_(False)


def _shape_mismatch(want: dict[str, tuple], got: dict[str, tuple]) -> str:
    """The first difference between the tensors a config needs and those a file holds."""
    for name in sorted(want.keys() - got.keys()):
        return f"missing tensor {name}"
    for name in sorted(got.keys() - want.keys()):
        return f"unexpected tensor {name}"
    name = next(k for k in sorted(want) if want[k] != got[k])
    return f"tensor {name} is {list(got[name])}, the config needs {list(want[name])}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
