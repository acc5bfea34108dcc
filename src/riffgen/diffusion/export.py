"""Export a model as one ``.safetensors`` file in the original Stable Diffusion 1.x layout.

This is the inverse of diffusers' single-file conversion (``convert_ldm_unet_checkpoint``,
``convert_ldm_vae_checkpoint``, ``convert_ldm_clip_checkpoint``): the keys are those of the
CompVis/LDM checkpoints (``model.diffusion_model.*``, ``first_stage_model.*``,
``cond_stage_model.transformer.*``), so the file loads in other SD tools and, for
SD1.5-shaped models (riffusion-model-v1 and its fine-tunes), back through
``RiffgenPipeline.from_pretrained(path)``.

The mapping is derived from each model's config (number of blocks, layers per block), so it
works for SD1.x-shaped models of any size, including the debug model. The file is written
tensor by tensor (one converted tensor in memory at a time) and atomically.
"""

from __future__ import annotations

import json
import os
import re
import struct
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from riffgen.audio import SpectrogramParams
from riffgen.errors import RiffgenError
from riffgen.files import atomic_path
from riffgen.models.folder import write_sidecar

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
TEXT_PREFIX = "cond_stage_model.transformer."

# safetensors dtype names (https://github.com/huggingface/safetensors, format.md).
_SAFETENSORS_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}

# Renames inside one UNet resnet block (diffusers -> LDM ResBlock).
_UNET_RESNET_PARTS = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}

_UNET_TOP_LEVEL = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}

# Renames inside the VAE mid-block attention (diffusers Attention -> LDM AttnBlock).
_VAE_ATTENTION_PARTS = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}


# ---------------------------------------------------------------------------- key mapping


def _split(key: str, pattern: str) -> re.Match[str] | None:
    return re.fullmatch(pattern, key)


def _unet_resnet(rest: str) -> str:
    """``conv1.weight`` -> ``in_layers.2.weight`` (the part after the resnet prefix)."""
    part, _, leaf = rest.rpartition(".")
    if part not in _UNET_RESNET_PARTS:
        raise KeyError(rest)
    return f"{_UNET_RESNET_PARTS[part]}.{leaf}"


def unet_key_to_original(key: str, *, layers_per_block: int, up_has_attention: list[bool]) -> str:
    """One diffusers UNet2DConditionModel key -> its key under ``model.diffusion_model.``.

    LDM numbers the UNet's layers flat: ``input_blocks`` hold, per down block,
    ``layers_per_block`` (resnet, attention) pairs then the downsampler; ``output_blocks``
    hold ``layers_per_block + 1`` per up block, the last also carrying the upsampler (at
    index 1 when that block has no attention, else 2). Raises KeyError for keys SD1.x
    checkpoints do not have (SDXL embeddings, LoRA layers).
    """
    per_down = layers_per_block + 1
    per_up = layers_per_block + 1
    module, _, leaf = key.rpartition(".")
    if module in _UNET_TOP_LEVEL:
        return f"{_UNET_TOP_LEVEL[module]}.{leaf}"
    if m := _split(key, r"down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)"):
        i, j, rest = int(m[1]), int(m[2]), m[3]
        return f"input_blocks.{per_down * i + j + 1}.0.{_unet_resnet(rest)}"
    if m := _split(key, r"down_blocks\.(\d+)\.attentions\.(\d+)\.(.+)"):
        i, j, rest = int(m[1]), int(m[2]), m[3]
        return f"input_blocks.{per_down * i + j + 1}.1.{rest}"
    if m := _split(key, r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(weight|bias)"):
        return f"input_blocks.{per_down * (int(m[1]) + 1)}.0.op.{m[2]}"
    if m := _split(key, r"mid_block\.resnets\.(\d+)\.(.+)"):
        return f"middle_block.{2 * int(m[1])}.{_unet_resnet(m[2])}"
    if m := _split(key, r"mid_block\.attentions\.0\.(.+)"):
        return f"middle_block.1.{m[1]}"
    if m := _split(key, r"up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)"):
        i, j, rest = int(m[1]), int(m[2]), m[3]
        return f"output_blocks.{per_up * i + j}.0.{_unet_resnet(rest)}"
    if m := _split(key, r"up_blocks\.(\d+)\.attentions\.(\d+)\.(.+)"):
        i, j, rest = int(m[1]), int(m[2]), m[3]
        return f"output_blocks.{per_up * i + j}.1.{rest}"
    if m := _split(key, r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(weight|bias)"):
        i = int(m[1])
        slot = 2 if up_has_attention[i] else 1
        return f"output_blocks.{per_up * i + layers_per_block}.{slot}.conv.{m[2]}"
    raise KeyError(key)


def vae_key_to_original(key: str, *, num_blocks: int) -> str:
    """One diffusers AutoencoderKL key -> its key under ``first_stage_model.``.

    The decoder's up blocks are numbered in reverse in LDM (``up.{n-1}`` runs first).
    """
    module, _, leaf = key.rpartition(".")
    if module in ("encoder.conv_norm_out", "decoder.conv_norm_out"):
        return f"{module.split('.')[0]}.norm_out.{leaf}"
    if module in (
        "encoder.conv_in",
        "encoder.conv_out",
        "decoder.conv_in",
        "decoder.conv_out",
        "quant_conv",
        "post_quant_conv",
    ):
        return key
    if m := _split(key, r"(encoder|decoder)\.(down|up)_blocks\.(\d+)\.resnets\.(\d+)\.(.+)"):
        side, direction, i, j, rest = m[1], m[2], int(m[3]), int(m[4]), m[5]
        block = i if direction == "down" else num_blocks - 1 - i
        return f"{side}.{direction}.{block}.block.{j}.{_vae_resnet(rest)}"
    if m := _split(key, r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(weight|bias)"):
        return f"encoder.down.{m[1]}.downsample.conv.{m[2]}"
    if m := _split(key, r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(weight|bias)"):
        return f"decoder.up.{num_blocks - 1 - int(m[1])}.upsample.conv.{m[2]}"
    if m := _split(key, r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)"):
        return f"{m[1]}.mid.block_{int(m[2]) + 1}.{_vae_resnet(m[3])}"
    if m := _split(key, r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)\.(weight|bias)"):
        if m[2] not in _VAE_ATTENTION_PARTS:
            raise KeyError(key)
        return f"{m[1]}.mid.attn_1.{_VAE_ATTENTION_PARTS[m[2]]}.{m[3]}"
    raise KeyError(key)


def _vae_resnet(rest: str) -> str:
    part, _, leaf = rest.rpartition(".")
    if part not in ("norm1", "conv1", "norm2", "conv2", "conv_shortcut"):
        raise KeyError(rest)
    return f"{'nin_shortcut' if part == 'conv_shortcut' else part}.{leaf}"


def text_key_to_original(key: str) -> str:
    """CLIPTextModel key -> key under ``cond_stage_model.transformer.``.

    transformers >= 5.6 dropped the ``text_model.`` level of CLIPTextModel; the original
    checkpoints (HF CLIPTextModel of 2022) have it.
    """
    return key if key.startswith("text_model.") else f"text_model.{key}"


def _is_vae_attention_matrix(original_key: str) -> bool:
    # LDM's AttnBlock uses 1x1 convs where diffusers uses Linear: [out, in] -> [out, in, 1, 1].
    return bool(re.search(r"\.mid\.attn_1\.(q|k|v|proj_out)\.weight$", original_key))


# ---------------------------------------------------------------------------- state dicts


def _unmapped(component: str, key: str) -> RiffgenError:
    return RiffgenError(
        f"cannot export the {component}: {key!r} has no place in an SD1.x checkpoint "
        "(only SD1.x-shaped models without LoRA layers can be exported; fuse/unload LoRA first)"
    )


def original_tensors(unet: Any, vae: Any, text_encoder: Any) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield ``(original_key, tensor)`` for every weight; tensors are the models' own (no copy).

    VAE attention matrices come back reshaped (a view) to 1x1 conv weights.
    """
    cfg = unet.config
    if isinstance(cfg.layers_per_block, (list, tuple)):
        raise RiffgenError("cannot export a UNet with per-block layer counts (not SD1.x)")
    layers = int(cfg.layers_per_block)
    unet_state = unet.state_dict()
    up_has_attention = [
        any(k.startswith(f"up_blocks.{i}.attentions.") for k in unet_state)
        for i in range(len(cfg.up_block_types))
    ]
    for key, tensor in unet_state.items():
        try:
            new = unet_key_to_original(
                key, layers_per_block=layers, up_has_attention=up_has_attention
            )
        except (KeyError, IndexError):
            raise _unmapped("UNet", key) from None
        yield UNET_PREFIX + new, tensor

    num_vae_blocks = len(vae.config.block_out_channels)
    for key, tensor in vae.state_dict().items():
        try:
            new = vae_key_to_original(key, num_blocks=num_vae_blocks)
        except KeyError:
            raise _unmapped("VAE", key) from None
        if _is_vae_attention_matrix(new) and tensor.ndim == 2:
            tensor = tensor.reshape(*tensor.shape, 1, 1)
        yield VAE_PREFIX + new, tensor

    for key, tensor in text_encoder.state_dict().items():
        if key.endswith("position_ids"):  # a buffer, rebuilt by the model on load
            continue
        yield TEXT_PREFIX + text_key_to_original(key), tensor


# ---------------------------------------------------------------------------- writing


def _header(entries: list[tuple[str, torch.dtype, tuple[int, ...]]], metadata: dict) -> bytes:
    header: dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    for name, dtype, shape in entries:
        if dtype not in _SAFETENSORS_DTYPES:
            raise RiffgenError(f"cannot write tensor {name} of dtype {dtype} to safetensors")
        size = torch.Size(shape).numel() * torch.empty((), dtype=dtype).element_size()
        header[name] = {
            "dtype": _SAFETENSORS_DTYPES[dtype],
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned, as safetensors writes it
    return struct.pack("<Q", len(raw)) + raw


def write_safetensors(
    path: str | os.PathLike[str],
    tensors: Iterable[tuple[str, torch.Tensor]],
    *,
    dtype: torch.dtype | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write ``(name, tensor)`` pairs to one ``.safetensors`` file, one tensor at a time.

    Only one converted (cast / contiguous) tensor is held at a time, so exporting a bf16
    model as fp16 needs no second copy of the model. Written atomically. Floating-point
    tensors are cast to ``dtype`` when given; integer ones are kept.
    """
    pairs = list(tensors)  # references only
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise RiffgenError(f"two tensors map to the same key {dup!r}")

    def target_dtype(t: torch.Tensor) -> torch.dtype:
        return dtype if dtype is not None and t.is_floating_point() else t.dtype

    entries = [(name, target_dtype(t), tuple(t.shape)) for name, t in pairs]
    head = _header(entries, {"format": "pt", **(metadata or {})})
    if sys.byteorder != "little":  # safetensors is little-endian; we write raw memory
        raise RiffgenError("writing safetensors is only supported on little-endian machines")
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(head)
        for _, tensor in pairs:
            data = tensor.detach().to(device="cpu", dtype=target_dtype(tensor)).contiguous()
            # Raw little-endian bytes through a uint8 view: no copy, works for bf16 too.
            f.write(data.reshape(-1).view(torch.uint8).numpy().data)
            del data
    return Path(path)


def save_single_file(
    unet: Any,
    vae: Any,
    text_encoder: Any,
    path: str | os.PathLike[str],
    *,
    dtype: torch.dtype | None = None,
    spectrogram: SpectrogramParams | None = None,
) -> Path:
    """Write ``unet``/``vae``/``text_encoder`` as one SD1.x checkpoint (``.safetensors``).

    ``dtype`` casts floating-point weights (None = keep each tensor's dtype; fp16 is what
    SD checkpoints usually hold). With ``spectrogram``, also writes ``NAME.riffgen.json``
    beside the file, which riffgen reads back when loading the file. Returns ``path``.
    """
    out = Path(path)
    if out.suffix.lower() != ".safetensors":
        raise RiffgenError(f"export path must end in .safetensors, got {out.name}")
    write_safetensors(out, original_tensors(unet, vae, text_encoder), dtype=dtype)
    if spectrogram is not None:
        write_sidecar(out, spectrogram)
    return out
