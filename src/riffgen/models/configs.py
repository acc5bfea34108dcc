"""The model shapes riffgen knows, written out once: SD1.5 (= riffusion-model-v1), debug, mini.

A :class:`ModelSpec` holds the diffusers/transformers configs of one shape;
:func:`build_components` instantiates it with random weights (tests, benchmarks, the start of
training from scratch) and :func:`write_config_folder` writes it without weights (what
``from_single_file`` needs to read an original SD checkpoint offline).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riffgen.audio import SpectrogramParams
from riffgen.models import text

# PNDM settings of riffusion-model-v1 (and SD1.x).
RIFFUSION_SCHEDULER: dict[str, Any] = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "steps_offset": 1,
    "skip_prk_steps": True,
    "set_alpha_to_one": False,
    "trained_betas": None,
}

# 64 mel rows -> 8 latent rows; the UNet downsamples once more, so widths are multiples of 16 px.
DEBUG_SPECTROGRAM = SpectrogramParams(num_frequencies=64, num_griffin_lim_iters=8)

# Same time axis as riffusion (44.1 kHz, 10 ms columns: 512 columns = 5.11 s, 0-10 kHz) but
# 128 mel rows instead of 512: 4x fewer pixels for the VAE and, with a 4x VAE, a 32x128
# latent (4096 positions) that a small UNet denoises fast on a laptop CPU.
# Fewer Griffin-Lim iterations: riffgen's coarse-to-fine phase recovery converges quickly and
# decoding is the largest fixed cost of one clip on a CPU.
MINI_SPECTROGRAM = SpectrogramParams(num_frequencies=128, num_griffin_lim_iters=16)


@dataclass(frozen=True)
class ModelSpec:
    """Everything that defines one model shape (configs as diffusers/transformers take them).

    ``text`` is a ``CLIPTextConfig``'s keyword arguments, or None for the packaged MiniLM
    encoder (then ``max_tokens`` is its token budget).
    """

    name: str
    unet: dict[str, Any]
    vae: dict[str, Any]
    text: dict[str, Any] | None
    spectrogram: SpectrogramParams
    scheduler: dict[str, Any] = field(default_factory=lambda: dict(RIFFUSION_SCHEDULER))
    max_tokens: int = text.CLIP_MAX_TOKENS
    tempo_token: bool = False  # packaged encoder + riffgen.models.tempo's token (mini v2)

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae["block_out_channels"]) - 1)


def _clip_text(hidden: int, layers: int, heads: int, intermediate: int) -> dict[str, Any]:
    return {
        "vocab_size": 49408,
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "max_position_embeddings": text.CLIP_MAX_TOKENS,
        "projection_dim": hidden,
        "hidden_act": "quick_gelu",
        "bos_token_id": 49406,
        "eos_token_id": 49407,
        "pad_token_id": 49407,
    }


def _vae(channels: tuple[int, ...], *, layers: int, groups: int, size: int, **extra: Any):
    return {
        "in_channels": 3,  # riffusion images are RGB (three equal channels)
        "out_channels": 3,
        "down_block_types": ["DownEncoderBlock2D"] * len(channels),
        "up_block_types": ["UpDecoderBlock2D"] * len(channels),
        "block_out_channels": list(channels),
        "layers_per_block": layers,
        "latent_channels": 4,
        "norm_num_groups": groups,
        "sample_size": size,
        **extra,
    }


def sd15_spec() -> ModelSpec:
    """Stable Diffusion 1.5, the shape of riffusion-model-v1 (859 M UNet, 512x512 images)."""
    return ModelSpec(
        name="sd15",
        unet={
            "sample_size": 64,
            "in_channels": 4,
            "out_channels": 4,
            "layers_per_block": 2,
            "block_out_channels": [320, 640, 1280, 1280],
            "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
            "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
            "cross_attention_dim": 768,
            "attention_head_dim": 8,
            "norm_num_groups": 32,
        },
        vae=_vae((128, 256, 512, 512), layers=2, groups=32, size=512, scaling_factor=0.18215),
        text={
            **_clip_text(768, 12, 12, 3072),
            "bos_token_id": 0,
            "eos_token_id": 2,
            "pad_token_id": 1,
        },
        spectrogram=SpectrogramParams(),
    )


@dataclass(frozen=True)
class DebugModelConfig:
    """Sizes of the debug model (channels and layers), chosen for speed on 2 CPU cores."""

    unet_channels: tuple[int, ...] = (32, 64)
    vae_channels: tuple[int, ...] = (8, 16, 16, 16)  # 4 blocks -> 8x downsampling, as in SD
    text_hidden: int = 32
    text_layers: int = 2
    cross_attention_dim: int = 32


def debug_spec(
    sizes: DebugModelConfig | None = None, *, spectrogram: SpectrogramParams = DEBUG_SPECTROGRAM
) -> ModelSpec:
    """An SD-shaped model small enough for CPU tests (real classes, random weights)."""
    cfg = sizes or DebugModelConfig()
    n = len(cfg.unet_channels)
    return ModelSpec(
        name="debug",
        unet={
            "sample_size": spectrogram.num_frequencies // 8,
            "in_channels": 4,
            "out_channels": 4,
            "layers_per_block": 1,
            "block_out_channels": list(cfg.unet_channels),
            "down_block_types": ["CrossAttnDownBlock2D"] * (n - 1) + ["DownBlock2D"],
            "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * (n - 1),
            "cross_attention_dim": cfg.cross_attention_dim,
            "attention_head_dim": 8,
            "norm_num_groups": 16,
        },
        vae=_vae(
            cfg.vae_channels,
            layers=1,
            groups=8,
            size=spectrogram.num_frequencies,
            scaling_factor=0.18215,
        ),
        text={
            **_clip_text(cfg.text_hidden, cfg.text_layers, 4, cfg.text_hidden * 2),
            "hidden_act": "quick_gelu",
        },
        spectrogram=spectrogram,
    )


@dataclass(frozen=True)
class MiniArchitecture:
    """Channel counts and layers of the mini VAE and UNet (diffusers classes)."""

    # VAE: len(vae_channels) - 1 downsamplings -> 3 blocks = 4x; 4 latent channels as SD.
    vae_channels: tuple[int, ...] = (16, 32, 64)
    vae_layers_per_block: int = 1
    vae_norm_groups: int = 8
    latent_channels: int = 4
    # UNet: 4 levels on the 32x128 latent; measured on 1 CPU thread, the convolutions of the
    # top levels dominate (no attention at all only saves a third), so the top levels are
    # narrow and plain and attention starts at 8x32 latent positions. 17.0M parameters,
    # ~140 ms per CFG step (batch 2) on one thread.
    unet_channels: tuple[int, ...] = (32, 64, 128, 256)
    unet_layers_per_block: int = 1
    unet_plain_levels: int = 2  # leading levels without attention
    unet_attention_head_dim: int = 32  # channels per head
    unet_norm_groups: int = 16
    cross_attention_dim: int = text.TEXT_DIM
    max_tokens: int = text.MAX_TOKENS
    # mini v2: one more conditioning token, the prompt's tempo (riffgen.models.tempo).
    tempo_token: bool = True

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae_channels) - 1)


def mini_spec(
    arch: MiniArchitecture | None = None, *, spectrogram: SpectrogramParams = MINI_SPECTROGRAM
) -> ModelSpec:
    """riffgen's own small model: 17 M UNet, 0.65 M VAE, frozen MiniLM text encoder."""
    a = arch or MiniArchitecture()
    n, plain = len(a.unet_channels), a.unet_plain_levels
    return ModelSpec(
        name="mini",
        unet={
            "sample_size": spectrogram.num_frequencies // a.vae_scale_factor,
            "in_channels": a.latent_channels,
            "out_channels": a.latent_channels,
            "layers_per_block": a.unet_layers_per_block,
            "block_out_channels": list(a.unet_channels),
            "down_block_types": ["DownBlock2D"] * plain + ["CrossAttnDownBlock2D"] * (n - plain),
            "up_block_types": ["CrossAttnUpBlock2D"] * (n - plain) + ["UpBlock2D"] * plain,
            "cross_attention_dim": a.cross_attention_dim,
            "attention_head_dim": [max(1, c // a.unet_attention_head_dim) for c in a.unet_channels],
            "norm_num_groups": a.unet_norm_groups,
        },
        vae=_vae(
            a.vae_channels,
            layers=a.vae_layers_per_block,
            groups=a.vae_norm_groups,
            size=spectrogram.num_frequencies,
            latent_channels=a.latent_channels,
            # No self-attention in the mid block: a purely convolutional VAE is cheaper and
            # works the same at any image width (loops, long clips, crops during training).
            mid_block_add_attention=False,
            scaling_factor=1.0,  # set from the latents' std after VAE training
        ),
        text=None,
        spectrogram=spectrogram,
        max_tokens=a.max_tokens,
        tempo_token=a.tempo_token,
    )


KNOWN_SPECS = {"sd15": sd15_spec, "debug": debug_spec, "mini": mini_spec}


def get_spec(name: str) -> ModelSpec:
    """The default spec of a known shape by name (``sd15``, ``debug``, ``mini``)."""
    from riffgen.errors import RiffgenError

    if name not in KNOWN_SPECS:
        raise RiffgenError(f"unknown model shape {name!r}: use one of {', '.join(KNOWN_SPECS)}")
    return KNOWN_SPECS[name]()


def write_config_folder(spec: ModelSpec, out_dir: Path) -> Path:
    """Write ``spec``'s component configs (no weights) in the diffusers layout to ``out_dir``.

    ``from_single_file`` reads them; writing them here avoids fetching them from the hub.
    """
    from riffgen.models.folder import model_index

    if spec.text is None:
        raise ValueError("a config folder needs a stored (CLIP) text encoder")
    files: dict[str, dict[str, Any]] = {
        "model_index.json": model_index(packaged_text=False),
        "unet/config.json": {"_class_name": "UNet2DConditionModel", **spec.unet},
        "vae/config.json": {"_class_name": "AutoencoderKL", **spec.vae},
        "text_encoder/config.json": {
            "architectures": ["CLIPTextModel"],
            "model_type": "clip_text_model",
            **spec.text,
        },
        "scheduler/scheduler_config.json": {"_class_name": "PNDMScheduler", **spec.scheduler},
        "tokenizer/tokenizer_config.json": {
            "tokenizer_class": "CLIPTokenizer",
            "model_max_length": spec.max_tokens,
            "bos_token": "<|startoftext|>",
            "eos_token": "<|endoftext|>",
            "unk_token": "<|endoftext|>",
            "pad_token": "<|endoftext|>",
            "do_lower_case": True,
        },
    }
    for name, data in files.items():
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(data, indent=2))
    for name in ("vocab.json", "merges.txt"):
        source = text.clip_tokenizer_dir() / name
        (out_dir / "tokenizer" / name).write_bytes(source.read_bytes())
    return out_dir
