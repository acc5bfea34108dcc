"""LoRA weights (diffusers format, as ``riffgen train --lora-rank`` writes them) into a UNet."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from riffgen.errors import RiffgenError
from riffgen.models.registry import quiet_libraries

LORA_WEIGHTS = "pytorch_lora_weights.safetensors"
ADAPTER = "riffgen_lora"


def find_lora_file(lora: str | os.PathLike[str]) -> Path:
    """``lora`` is the weights file or the directory holding it."""
    path = Path(lora).expanduser()
    if path.is_dir():
        candidates = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
        if (path / LORA_WEIGHTS).is_file():
            candidates = [path / LORA_WEIGHTS]
        if not candidates:
            raise RiffgenError(f"no LoRA weights (*.safetensors) in {path}")
        path = candidates[0]
    if not path.is_file():
        raise RiffgenError(f"LoRA weights not found: {path}")
    return path


def load_lora(unet: Any, lora: str | os.PathLike[str], *, scale: float = 1.0) -> str:
    """Load LoRA weights into ``unet``; returns the adapter name.

    Weights trained for another model (other layer sizes) get one line, not diffusers' list of
    every mismatched tensor.
    """
    path = find_lora_file(lora)
    try:
        with quiet_libraries():
            # Imported here, silenced: it pulls in transformers' image processors, which warn
            # about torchvision.
            from diffusers.loaders.lora_pipeline import StableDiffusionLoraLoaderMixin

            state_dict, alphas = StableDiffusionLoraLoaderMixin.lora_state_dict(str(path))
            if not any(k.startswith("unet.") for k in state_dict):
                raise RiffgenError(f"{path.name} holds no UNet LoRA weights (keys 'unet.*')")
            StableDiffusionLoraLoaderMixin.load_lora_into_unet(
                state_dict, network_alphas=alphas, unet=unet, adapter_name=ADAPTER
            )
        if scale != 1.0:
            unet.set_adapters([ADAPTER], weights=[scale])
    except RiffgenError:
        raise
    except Exception as exc:
        text = str(exc)
        if "size mismatch" in text:
            raise RiffgenError(
                f"LoRA weights {path} were trained for another model (their layer sizes do not "
                "match this model's UNet): pass the --model they were trained on"
            ) from None
        first = text.splitlines()[0] if text else type(exc).__name__
        raise RiffgenError(f"cannot load LoRA weights {path}: {first}") from None
    return ADAPTER
