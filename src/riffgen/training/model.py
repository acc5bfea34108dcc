"""Loading the components to train, and writing trained models in the layouts the pipeline reads.

Full fine-tunes are written as a complete diffusers folder (``--model OUT_DIR``); LoRA runs as
``pytorch_lora_weights.safetensors`` exactly as diffusers' ``save_lora_weights`` writes it
(``--lora OUT_DIR``).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from riffgen.audio import SpectrogramParams
from riffgen.errors import RiffgenError

MODEL_INDEX = "model_index.json"
RIFFGEN_CONFIG = "riffgen.json"  # the pipeline's spectrogram-parameter file (diffusion.debug)
LORA_WEIGHTS = "pytorch_lora_weights.safetensors"
# The parts of a diffusers folder the trainer never changes (copied to a full fine-tune).
_FROZEN_PARTS = ("vae", "text_encoder", "tokenizer", "scheduler", "feature_extractor")


@dataclass
class Components:
    """What training needs from a base model; the VAE and text encoder stay frozen."""

    unet: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    scheduler_config: dict[str, Any]
    spectrogram_params: SpectrogramParams
    source_dir: Path | None  # the diffusers folder it came from, if any


def _load_class(library: str, class_name: str) -> Any:
    try:
        return getattr(importlib.import_module(library), class_name)
    except (ImportError, AttributeError):
        raise RiffgenError(
            f"model component class {library}.{class_name} is not available"
        ) from None


def read_spectrogram_params(model_dir: Path) -> SpectrogramParams:
    """The model's spectrogram parameters (``riffgen.json``); riffusion's defaults if absent."""
    path = model_dir / RIFFGEN_CONFIG
    if not path.is_file():
        return SpectrogramParams()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SpectrogramParams(**data.get("spectrogram", {}))
    except (json.JSONDecodeError, TypeError) as exc:
        raise RiffgenError(f"cannot read {path}: {exc}") from None


def write_spectrogram_params(model_dir: Path, params: SpectrogramParams) -> None:
    """Write ``riffgen.json`` in the format ``RiffgenPipeline.from_pretrained`` reads."""
    from riffgen.files import atomic_path

    fields = {name: getattr(params, name) for name in params.__dataclass_fields__}
    with atomic_path(model_dir / RIFFGEN_CONFIG) as tmp:
        tmp.write_text(json.dumps({"spectrogram": fields}, indent=2) + "\n", encoding="utf-8")


def load_components(base: str | os.PathLike[str]) -> Components:
    """Load a model to train from a diffusers folder (any component classes named in
    ``model_index.json``: e.g. a small random-initialised model trained from scratch), or from
    anything else ``riffgen.diffusion`` loads (single .safetensors/.ckpt file, hub id)."""
    path = Path(base).expanduser()
    if os.fspath(base) == "mini":  # riffgen's shipped small model: load it as the folder it is
        from riffgen.mini import resolve_mini

        path = resolve_mini()
    if path.is_dir() and (path / MODEL_INDEX).is_file():
        return _load_directory(path)
    if path.is_dir():
        raise RiffgenError(f"{path} is not a diffusers model folder (no {MODEL_INDEX})")
    from riffgen.diffusion.loading import load_model

    loaded = load_model(str(base), dtype=torch.float32)
    return Components(
        unet=loaded.unet,
        vae=loaded.vae,
        text_encoder=loaded.text_encoder,
        tokenizer=loaded.tokenizer,
        scheduler_config=dict(loaded.scheduler.config),
        spectrogram_params=loaded.spectrogram_params,
        source_dir=None,
    )


def _load_directory(path: Path) -> Components:
    try:
        index = json.loads((path / MODEL_INDEX).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RiffgenError(f"cannot read {path / MODEL_INDEX}: {exc}") from None
    parts: dict[str, Any] = {}
    from riffgen.mini import text as mini_text

    if mini_text.has_marker(path):  # text encoder referenced from a pip package (riffgen.mini)
        parts["text_encoder"] = mini_text.load_text_encoder(path)
        parts["tokenizer"] = mini_text.load_tokenizer(path)
    for name in ("unet", "vae", "text_encoder", "tokenizer"):
        if name in parts:
            continue
        spec = index.get(name)
        if not (isinstance(spec, list) and len(spec) == 2 and all(spec)):
            raise RiffgenError(f"{path} has no {name} (model_index.json)")
        cls = _load_class(*spec)
        kwargs = {} if name == "tokenizer" else {"torch_dtype": torch.float32}
        try:
            parts[name] = cls.from_pretrained(str(path / name), **kwargs)
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RiffgenError(f"cannot load {name} from {path / name}: {first}") from exc
    scheduler_file = path / "scheduler" / "scheduler_config.json"
    if not scheduler_file.is_file():
        raise RiffgenError(f"{path} has no scheduler/scheduler_config.json")
    scheduler_config = json.loads(scheduler_file.read_text(encoding="utf-8"))
    return Components(
        **parts,
        scheduler_config=scheduler_config,
        spectrogram_params=read_spectrogram_params(path),
        source_dir=path,
    )


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
    else:
        from diffusers import PNDMScheduler, StableDiffusionPipeline

        pipe = StableDiffusionPipeline(
            unet=unet,
            vae=components.vae,
            text_encoder=components.text_encoder,
            tokenizer=components.tokenizer,
            scheduler=PNDMScheduler.from_config(components.scheduler_config),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        pipe.save_pretrained(str(out_dir), safe_serialization=True)
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
