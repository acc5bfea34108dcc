"""Loading the components to train, and writing trained models in the layouts the pipeline reads.

Full fine-tunes are written as a complete diffusers folder (``--model OUT_DIR``); LoRA runs as
``pytorch_lora_weights.safetensors`` exactly as diffusers' ``save_lora_weights`` writes it
(``--lora OUT_DIR``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from riffgen.audio import SpectrogramParams
from riffgen.models.folder import MODEL_INDEX, write_spectrogram_params
from riffgen.models.lora import LORA_WEIGHTS
from riffgen.models.registry import Components, load_components, write_parts

# The parts of a diffusers folder the trainer never changes (copied to a full fine-tune).
_FROZEN_PARTS = ("vae", "text_encoder", "tokenizer", "scheduler", "feature_extractor")

__all__ = [
    "Components",
    "load_components",
    "noise_scheduler",
    "save_full_model",
    "save_lora",
]


def noise_scheduler(components: Components, prediction_type: str | None) -> Any:
    """DDPM scheduler with the base model's noise schedule (betas, timesteps) for training."""
    from diffusers import DDPMScheduler

    config = {k: v for k, v in components.scheduler_config.items() if not k.startswith("_")}
    scheduler = DDPMScheduler.from_config(config)
    if prediction_type is not None:
        scheduler.register_to_config(prediction_type=prediction_type)
    return scheduler


# ------------------------------------------------------------------------------ saving


def lora_state_dict(unet: Any) -> dict[str, torch.Tensor]:
    """The UNet's LoRA weights as diffusers names them (what save_lora_weights expects)."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    return convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))


def save_lora(unet: Any, out_dir: Path) -> Path:
    """Write ``out_dir/pytorch_lora_weights.safetensors`` (diffusers LoRA format, with the
    adapter config as metadata so alpha != rank survives loading)."""
    from diffusers import StableDiffusionPipeline

    out_dir.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu", torch.float32).contiguous()
        for k, v in lora_state_dict(unet).items()
    }
    metadata = unet.peft_config["default"].to_dict()
    metadata = json.loads(
        json.dumps(metadata, default=lambda v: sorted(v) if isinstance(v, set) else str(v))
    )
    tmp_dir = out_dir / ".lora-tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    StableDiffusionPipeline.save_lora_weights(
        save_directory=str(tmp_dir),
        unet_lora_layers=state,
        safe_serialization=True,
        unet_lora_adapter_metadata=metadata,
    )
    os.replace(tmp_dir / LORA_WEIGHTS, out_dir / LORA_WEIGHTS)  # atomic swap of the file
    shutil.rmtree(tmp_dir, ignore_errors=True)
    return out_dir / LORA_WEIGHTS


def save_full_model(
    unet: Any,
    components: Components,
    out_dir: Path,
    *,
    params: SpectrogramParams,
    link: bool = False,
) -> Path:
    """Write a complete diffusers model folder: the trained UNet plus the base's other parts.

    With a base folder its frozen parts are copied (``link``: symlinked, for throwaway
    validation models); otherwise every component is serialised.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    source = components.source_dir
    if source is not None:
        for name in _FROZEN_PARTS:
            src = source / name
            if not src.exists():
                continue
            dst = out_dir / name
            if dst.is_symlink() or dst.is_file():
                dst.unlink()
            elif dst.is_dir():
                shutil.rmtree(dst)
            if link:
                dst.symlink_to(src.resolve(), target_is_directory=True)
            else:
                shutil.copytree(src, dst)
        shutil.copy2(source / MODEL_INDEX, out_dir / MODEL_INDEX)
    else:  # built or loaded from a single file: serialise every component
        write_parts(components, out_dir, unet=unet)
    unet_dir = out_dir / "unet"
    tmp_dir = out_dir / ".unet-tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    unet.save_pretrained(str(tmp_dir), safe_serialization=True)
    if unet_dir.is_symlink() or unet_dir.is_file():
        unet_dir.unlink()
    elif unet_dir.exists():
        shutil.rmtree(unet_dir)
    os.replace(tmp_dir, unet_dir)
    write_spectrogram_params(out_dir, params)
    return out_dir
