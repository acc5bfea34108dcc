"""Finding and loading model weights: hub id, diffusers directory or single SD checkpoint file.

Also picks the device and dtype, and loads diffusers-format LoRA weights into the UNet.
Weights are loaded straight into the target dtype with diffusers' low-memory path, so no
second full copy of the model is held while loading.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from riffgen.audio import SpectrogramParams
from riffgen.diffusion.debug import clip_tokenizer_dir, read_riffgen_config
from riffgen.errors import RiffgenError
from riffgen.models import DEFAULT_MODEL
from riffgen.models.devices import DTYPES, cpu_supports_bf16, resolve_device, resolve_dtype
from riffgen.mini import MINI_NAME, resolve_mini
from riffgen.mini import text as mini_text

SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")


@dataclass
class LoadedModel:
    """The diffusers components of one model plus where they came from."""

    unet: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    scheduler: Any
    spectrogram_params: SpectrogramParams
    source: str
    kind: str  # "directory", "hub", "single_file"


# ---------------------------------------------------------------------------- sources


def classify_source(model: str | os.PathLike[str]) -> str:
    """-> "directory", "single_file" or "hub"; a path that does not exist raises."""
    text = os.fspath(model)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "model_index.json").is_file() and not (path / "unet").is_dir():
            raise RiffgenError(
                f"{path} is not a diffusers model directory (no model_index.json or unet/)"
            )
        return "directory"
    if path.is_file():
        if path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
            raise RiffgenError(
                f"model file {path} is not a checkpoint: expected "
                + ", ".join(SINGLE_FILE_SUFFIXES)
            )
        return "single_file"
    looks_like_path = (
        text.startswith((".", "/", "~"))
        or text.lower().endswith(SINGLE_FILE_SUFFIXES)
        or text.count("/") != 1
    )
    if looks_like_path:
        raise RiffgenError(f"model not found: {text} (no such file or directory)")
    return "hub"


def missing_model_message(model_id: str) -> str:
    return (
        f"model {model_id!r} is not in the Hugging Face cache and could not be downloaded: "
        f"download it where there is network (`huggingface-cli download {model_id}`) and copy "
        "~/.cache/huggingface here, or pass --model with a local diffusers directory or a "
        ".safetensors/.ckpt file"
    )


def _pipeline_kwargs(dtype: torch.dtype) -> dict[str, Any]:
    # No safety checker or feature extractor: spectrograms are not photos.
    return {
        "dtype": dtype,
        "safety_checker": None,
        "feature_extractor": None,
        "requires_safety_checker": False,
        "low_cpu_mem_usage": True,
    }


def _from_directory(path: str, dtype: torch.dtype, *, local_files_only: bool = True):
    from diffusers import StableDiffusionPipeline

    kwargs = _pipeline_kwargs(dtype)
    if not (Path(path).is_dir() and mini_text.has_marker(Path(path))):
        return StableDiffusionPipeline.from_pretrained(
            path, local_files_only=local_files_only, **kwargs
        )
    # riffgen.mini: the text encoder is referenced (a pip package), not stored in the folder;
    # diffusers warns that a BertModel is not the CLIPTextModel SD expects, which is intended.
    from diffusers.utils import logging as diffusers_logging

    kwargs["text_encoder"] = mini_text.load_text_encoder(Path(path), dtype=dtype)
    kwargs["tokenizer"] = mini_text.load_tokenizer(Path(path))
    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        return StableDiffusionPipeline.from_pretrained(path, local_files_only=True, **kwargs)
    finally:
        diffusers_logging.set_verbosity(level)


def _from_hub(model_id: str, dtype: torch.dtype):
    try:
        return _from_directory(model_id, dtype, local_files_only=True)
    except Exception as cached_exc:  # not cached (or incomplete): try the network once
        if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
            raise RiffgenError(missing_model_message(model_id)) from cached_exc
        try:
            return _from_directory(model_id, dtype, local_files_only=False)
        except Exception as exc:
            raise RiffgenError(missing_model_message(model_id)) from exc


def _from_single_file(path: Path, dtype: torch.dtype):
    """Original SD1.x checkpoint layout -> pipeline, using SD1.5 configs written locally."""
    from diffusers import StableDiffusionPipeline

    with tempfile.TemporaryDirectory(prefix="riffgen-sd15-config-") as config_dir:
        write_sd15_config(Path(config_dir))
        kwargs = _pipeline_kwargs(dtype)
        kwargs.pop("low_cpu_mem_usage")
        try:
            return StableDiffusionPipeline.from_single_file(
                str(path), config=config_dir, local_files_only=True, **kwargs
            )
        except RiffgenError:
            raise
        except Exception as exc:
            raise RiffgenError(
                f"cannot load {path.name} as a Stable Diffusion 1.x checkpoint: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from exc


def load_model(
    model: str | os.PathLike[str] = DEFAULT_MODEL,
    *,
    dtype: torch.dtype,
) -> LoadedModel:
    """Load the components of ``model`` on the CPU in ``dtype`` (move them with ``.to`` later).

    ``"mini"`` names riffgen's own small model shipped in the package (riffgen.mini).
    """
    if os.fspath(model) == MINI_NAME:
        model = resolve_mini()
    kind = classify_source(model)
    source = os.fspath(model)
    if kind == "directory":
        try:
            pipe = _from_directory(str(Path(source).expanduser()), dtype)
        except Exception as exc:
            raise RiffgenError(f"cannot load model directory {source}: {exc}") from exc
        params = read_riffgen_config(Path(source).expanduser())
    elif kind == "single_file":
        pipe = _from_single_file(Path(source).expanduser(), dtype)
        params = _params_beside(Path(source).expanduser())
    else:
        pipe = _from_hub(source, dtype)
        params = SpectrogramParams()
    return LoadedModel(
        unet=pipe.unet,
        vae=pipe.vae,
        text_encoder=pipe.text_encoder,
        tokenizer=pipe.tokenizer,
        scheduler=pipe.scheduler,
        spectrogram_params=params,
        source=source,
        kind=kind,
    )


def _params_beside(path: Path) -> SpectrogramParams:
    """A single file may have ``NAME.riffgen.json`` beside it; else riffusion's defaults."""
    sidecar = path.with_name(path.stem + ".riffgen.json")
    if sidecar.is_file():
        data = json.loads(sidecar.read_text())
        return SpectrogramParams(**data.get("spectrogram", {}))
    return SpectrogramParams()


# ---------------------------------------------------------------------------- LoRA


def load_lora(unet: Any, lora: str | os.PathLike[str], *, scale: float = 1.0) -> str:
    """Load diffusers-format LoRA weights (``pytorch_lora_weights.safetensors``) into ``unet``.

    ``lora`` is that file or the directory holding it. Returns the adapter name.
    """
    from diffusers.loaders.lora_pipeline import StableDiffusionLoraLoaderMixin

    path = Path(lora).expanduser()
    if path.is_dir():
        candidates = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
        if (path / "pytorch_lora_weights.safetensors").is_file():
            candidates = [path / "pytorch_lora_weights.safetensors"]
        if not candidates:
            raise RiffgenError(f"no LoRA weights (*.safetensors) in {path}")
        path = candidates[0]
    if not path.is_file():
        raise RiffgenError(f"LoRA weights not found: {path}")
    try:
        state_dict, alphas = StableDiffusionLoraLoaderMixin.lora_state_dict(str(path))
        unet_state = {k: v for k, v in state_dict.items() if k.startswith("unet.")}
        if not unet_state:
            raise RiffgenError(f"{path.name} holds no UNet LoRA weights (keys 'unet.*')")
        adapter = "riffgen_lora"
        StableDiffusionLoraLoaderMixin.load_lora_into_unet(
            state_dict, network_alphas=alphas, unet=unet, adapter_name=adapter
        )
        if scale != 1.0:
            unet.set_adapters([adapter], weights=[scale])
    except RiffgenError:
        raise
    except Exception as exc:
        raise RiffgenError(f"cannot load LoRA weights {path}: {exc}") from exc
    return adapter


# ---------------------------------------------------------------------------- SD1.5 configs

SD15_UNET_CONFIG: dict[str, Any] = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": [
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": [
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ],
}

SD15_VAE_CONFIG: dict[str, Any] = {
    "_class_name": "AutoencoderKL",
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 512,
    "scaling_factor": 0.18215,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}

SD15_TEXT_CONFIG: dict[str, Any] = {
    "architectures": ["CLIPTextModel"],
    "model_type": "clip_text_model",
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
    "hidden_act": "quick_gelu",
    "hidden_size": 768,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "projection_dim": 768,
    "vocab_size": 49408,
}

SD15_SCHEDULER_CONFIG: dict[str, Any] = {
    "_class_name": "PNDMScheduler",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}

SD15_MODEL_INDEX: dict[str, Any] = {
    "_class_name": "StableDiffusionPipeline",
    "feature_extractor": [None, None],
    "safety_checker": [None, None],
    "requires_safety_checker": False,
    "scheduler": ["diffusers", "PNDMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}


def write_sd15_config(out_dir: Path) -> Path:
    """Write the SD1.5 (= riffusion-model-v1) component configs, no weights, to ``out_dir``.

    ``from_single_file`` needs them; writing them here avoids fetching them from the hub.
    """
    files = {
        "model_index.json": SD15_MODEL_INDEX,
        "unet/config.json": SD15_UNET_CONFIG,
        "vae/config.json": SD15_VAE_CONFIG,
        "text_encoder/config.json": SD15_TEXT_CONFIG,
        "scheduler/scheduler_config.json": SD15_SCHEDULER_CONFIG,
        "tokenizer/tokenizer_config.json": {
            "tokenizer_class": "CLIPTokenizer",
            "model_max_length": 77,
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
        (out_dir / "tokenizer" / name).write_bytes((clip_tokenizer_dir() / name).read_bytes())
    return out_dir
