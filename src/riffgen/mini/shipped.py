"""Where the shipped mini model lives (package data) and how ``--model mini`` finds it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from riffgen.errors import RiffgenError

MINI_NAME = "mini"
WEIGHT_FILES = (
    "unet/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.safetensors",
)


def shipped_model_dir() -> Path:
    """``riffgen/data/models/mini`` inside the installed package (may not exist yet)."""
    return Path(str(resources.files("riffgen") / "data" / "models" / MINI_NAME))


def is_complete(model_dir: Path) -> bool:
    return (model_dir / "model_index.json").is_file() and all(
        (model_dir / name).is_file() for name in WEIGHT_FILES
    )


def resolve_mini(model_dir: Path | None = None) -> Path:
    """The shipped mini model folder; one clear error when its weights are not there yet."""
    path = model_dir or shipped_model_dir()
    if not is_complete(path):
        raise RiffgenError(
            f"the mini model's weights are not in {path} yet: build them with `make train-mini`"
            " (scripts/train_mini.py)"
        )
    return path
