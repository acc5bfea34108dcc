"""A debug-size Stable-Diffusion-shaped model with random weights, for tests and benchmarks.

Real diffusers/transformers classes (UNet2DConditionModel, AutoencoderKL with SD's 8x
downsampling, CLIPTextModel, CLIPTokenizer with the real CLIP BPE vocabulary, PNDMScheduler
configured like riffusion-model-v1), saved in the diffusers layout plus a ``riffgen.json``
holding its (small) spectrogram parameters, so it loads through
``RiffgenPipeline.from_pretrained(path)`` like a real model.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from riffgen.audio import SpectrogramParams

RIFFGEN_CONFIG = "riffgen.json"

# 64 mel rows -> 8 latent rows; the UNet downsamples once more, so widths are multiples of 16 px.
DEBUG_SPECTROGRAM = SpectrogramParams(num_frequencies=64, num_griffin_lim_iters=8)


@dataclass(frozen=True)
class DebugModelConfig:
    """Sizes of the debug model (channels and layers), chosen for speed on 2 CPU cores."""

    unet_channels: tuple[int, ...] = (32, 64)
    vae_channels: tuple[int, ...] = (8, 16, 16, 16)  # 4 blocks -> 8x downsampling, as in SD
    text_hidden: int = 32
    text_layers: int = 2
    cross_attention_dim: int = 32


def clip_tokenizer_dir() -> Path:
    """The packaged CLIP vocabulary (vocab.json, merges.txt), see scripts/make_clip_vocab.py."""
    return Path(str(resources.files("riffgen") / "data" / "clip_tokenizer"))


def load_clip_tokenizer():
    """CLIPTokenizer with the real CLIP vocabulary and SD1.x settings (77 tokens)."""
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(
        str(clip_tokenizer_dir()), pad_token="<|endoftext|>", model_max_length=77
    )


def riffusion_scheduler_config() -> dict:
    """PNDM settings of riffusion-model-v1 (and SD1.x)."""
    return {
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "num_train_timesteps": 1000,
        "steps_offset": 1,
        "skip_prk_steps": True,
        "set_alpha_to_one": False,
    }


def build_debug_model(
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    config: DebugModelConfig | None = None,
    spectrogram: SpectrogramParams = DEBUG_SPECTROGRAM,
) -> Path:
    """Write a random-weight debug model to ``out_dir`` (diffusers layout); return the path."""
    from diffusers import (
        AutoencoderKL,
        PNDMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    cfg = config or DebugModelConfig()
    out = Path(out_dir)
    torch.manual_seed(seed)
    n_unet = len(cfg.unet_channels)
    unet = UNet2DConditionModel(
        sample_size=spectrogram.num_frequencies // 8,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=cfg.unet_channels,
        down_block_types=("CrossAttnDownBlock2D",) * (n_unet - 1) + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * (n_unet - 1),
        cross_attention_dim=cfg.cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=16,
    )
    n_vae = len(cfg.vae_channels)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * n_vae,
        up_block_types=("UpDecoderBlock2D",) * n_vae,
        block_out_channels=cfg.vae_channels,
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=spectrogram.num_frequencies,
        scaling_factor=0.18215,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408,
            hidden_size=cfg.text_hidden,
            intermediate_size=cfg.text_hidden * 2,
            num_hidden_layers=cfg.text_layers,
            num_attention_heads=4,
            max_position_embeddings=77,
            projection_dim=cfg.text_hidden,
            bos_token_id=49406,
            eos_token_id=49407,
            pad_token_id=49407,
        )
    )
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=load_clip_tokenizer(),
        scheduler=PNDMScheduler(**riffusion_scheduler_config()),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(out, safe_serialization=True)
    write_riffgen_config(out, spectrogram)
    return out


def write_riffgen_config(model_dir: Path, spectrogram: SpectrogramParams) -> None:
    """Store the model's spectrogram parameters beside model_index.json."""
    data = {"spectrogram": {k: getattr(spectrogram, k) for k in spectrogram.__dataclass_fields__}}
    (Path(model_dir) / RIFFGEN_CONFIG).write_text(json.dumps(data, indent=2) + "\n")


def read_riffgen_config(model_dir: Path) -> SpectrogramParams:
    """Spectrogram parameters stored with a model; riffusion's defaults when absent."""
    path = Path(model_dir) / RIFFGEN_CONFIG
    if not path.is_file():
        return SpectrogramParams()
    data = json.loads(path.read_text())
    return SpectrogramParams(**data.get("spectrogram", {}))
