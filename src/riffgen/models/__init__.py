"""What a riffgen model is: its folder format, the known configurations and one registry.

- :mod:`riffgen.models.folder`: the folder format (``riffgen.json``, ``model_index.json``)
- :mod:`riffgen.models.configs`: the known shapes (SD1.5, debug, mini), written out once
- :mod:`riffgen.models.text`: text encoders (CLIP, the packaged MiniLM and its marker)
- :mod:`riffgen.models.registry`: names and paths -> :class:`Components`; building, saving
- :mod:`riffgen.models.lora`: LoRA weights into a UNet
- :mod:`riffgen.models.devices`: device and dtype choice

Pipeline, trainer, server, benchmarks and tests all load through :func:`load_components`;
nothing else reads ``riffgen.json`` or knows where ``mini`` lives. Kept import-light (the CLI
imports this package for ``DEFAULT_MODEL``): the submodules import torch and diffusers.
"""

from __future__ import annotations

from typing import Any

DEFAULT_MODEL = "riffusion/riffusion-model-v1"

_LAZY = {
    "Components": "registry",
    "build_components": "registry",
    "build_model": "registry",
    "classify": "registry",
    "load_components": "registry",
    "save_model": "registry",
    "ModelSpec": "configs",
    "get_spec": "configs",
}

__all__ = ["DEFAULT_MODEL", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"riffgen.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
