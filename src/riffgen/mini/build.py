"""Writing a freshly initialised mini model in the diffusers layout the pipeline loads."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from riffgen.audio import SpectrogramParams
from riffgen.diffusion.debug import riffusion_scheduler_config
from riffgen.mini.config import MINI_SPECTROGRAM, MiniArchitecture
from riffgen.mini.text import write_markers
from riffgen.training.model import write_spectrogram_params

MODEL_INDEX: dict[str, Any] = {
    "_class_name": "StableDiffusionPipeline",
    "feature_extractor": [None, None],
    "safety_checker": [None, None],
    "requires_safety_checker": False,
    "scheduler": ["diffusers", "PNDMScheduler"],
    "text_encoder": ["transformers", "BertModel"],
    "tokenizer": ["transformers", "BertTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}


def make_vae(arch: MiniArchitecture, spectrogram: SpectrogramParams) -> Any:
    """A random-initialised AutoencoderKL (3-channel images, as every riffusion image is RGB)."""
    from diffusers import AutoencoderKL

    n = len(arch.vae_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n,
        block_out_channels=arch.vae_channels,
        layers_per_block=arch.vae_layers_per_block,
        latent_channels=arch.latent_channels,
        norm_num_groups=arch.vae_norm_groups,
        sample_size=spectrogram.num_frequencies,
        # No self-attention in the mid block: a purely convolutional VAE is cheaper and works
        # the same at any image width (loops, long clips, crops during training).
        mid_block_add_attention=False,
        scaling_factor=1.0,  # set from the latents' std after VAE training
    )


def make_unet(arch: MiniArchitecture, spectrogram: SpectrogramParams) -> Any:
    from diffusers import UNet2DConditionModel

    n, plain = len(arch.unet_channels), arch.unet_plain_levels
    heads = tuple(max(1, c // arch.unet_attention_head_dim) for c in arch.unet_channels)
    return UNet2DConditionModel(
        sample_size=spectrogram.num_frequencies // arch.vae_scale_factor,
        in_channels=arch.latent_channels,
        out_channels=arch.latent_channels,
        layers_per_block=arch.unet_layers_per_block,
        block_out_channels=arch.unet_channels,
        down_block_types=("DownBlock2D",) * plain + ("CrossAttnDownBlock2D",) * (n - plain),
        up_block_types=("CrossAttnUpBlock2D",) * (n - plain) + ("UpBlock2D",) * plain,
        cross_attention_dim=arch.cross_attention_dim,
        attention_head_dim=heads,
        norm_num_groups=arch.unet_norm_groups,
    )


def count_parameters(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def build_initial_model(
    out_dir: str | os.PathLike[str],
    *,
    arch: MiniArchitecture | None = None,
    spectrogram: SpectrogramParams = MINI_SPECTROGRAM,
    seed: int = 0,
) -> Path:
    """Write a random-initialised mini model to ``out_dir`` and return the path.

    Layout: model_index.json, unet/, vae/, scheduler/ (riffusion's PNDM settings),
    text_encoder/ and tokenizer/ holding only the package marker (see riffgen.mini.text),
    riffgen.json (spectrogram parameters). ``RiffgenPipeline.from_pretrained`` loads it.
    """
    from diffusers import PNDMScheduler

    arch = arch or MiniArchitecture()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    make_unet(arch, spectrogram).save_pretrained(str(out / "unet"), safe_serialization=True)
    make_vae(arch, spectrogram).save_pretrained(str(out / "vae"), safe_serialization=True)
    PNDMScheduler(**riffusion_scheduler_config()).save_pretrained(str(out / "scheduler"))
    write_markers(out, max_tokens=arch.max_tokens)
    (out / "model_index.json").write_text(json.dumps(MODEL_INDEX, indent=2) + "\n")
    write_spectrogram_params(out, spectrogram)
    return out
