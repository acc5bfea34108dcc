"""One registry: a model name or path -> its components.

Names: ``mini`` (riffgen's own model, shipped in the package), ``debug`` (a random debug-size
SD-shaped model, built in memory), ``fake`` (no weights: a stand-in pipeline, see
:func:`riffgen.diffusion.load_pipeline`), a Hugging Face hub id (taken from the local cache,
else downloaded once), a diffusers model directory, or one ``.safetensors``/``.ckpt`` file in
the original Stable Diffusion layout.

Components are loaded class by class (diffusers' model classes, transformers' text classes),
never through diffusers' pipeline modules: they are slow to import and pull in image
processors that spectrogram models do not use.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from riffgen.audio import SpectrogramParams
from riffgen.errors import RiffgenError
from riffgen.models import configs, folder, text
from riffgen.models.configs import ModelSpec

MINI_NAME = "mini"
BUILT_IN = ("mini", "debug", "fake")
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")
_MINI_WEIGHTS = (
    "unet/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.safetensors",
)


@dataclass
class Components:
    """The parts of one model, and where they came from.

    ``text_encoder_ref`` is the marker of a packaged text encoder (None: the encoder is stored
    with the model). ``source_dir`` is the diffusers folder it was loaded from, if any.
    ``defaults``: the generation settings the model recommends (``riffgen.json``'s
    "defaults", e.g. ``{"steps": 20}``; empty for built and debug models).
    """

    unet: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    scheduler: Any
    spectrogram_params: SpectrogramParams
    source: str
    kind: str  # "mini", "debug", "directory", "hub", "single_file", "built"
    source_dir: Path | None = None
    text_encoder_ref: dict[str, Any] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def scheduler_config(self) -> dict[str, Any]:
        return dict(self.scheduler.config)

    def modules(self) -> tuple[Any, Any, Any]:
        return self.unet, self.vae, self.text_encoder


# ---------------------------------------------------------------------------- names


def shipped_mini_dir() -> Path:
    """``riffgen/data/models/mini`` inside the installed package."""
    return Path(str(resources.files("riffgen") / "data" / "models" / MINI_NAME))


def resolve_mini(model_dir: Path | None = None) -> Path:
    """The shipped mini model folder; one clear error when its weights are not there."""
    path = model_dir or shipped_mini_dir()
    complete = (path / folder.MODEL_INDEX).is_file() and all(
        (path / name).is_file() for name in _MINI_WEIGHTS
    )
    if not complete:
        raise RiffgenError(
            f"the mini model's weights are not in {path}: build them with `make train-mini`"
            " (scripts/train_mini.py)"
        )
    return path


def classify(model: str | os.PathLike[str]) -> str:
    """-> "mini", "debug", "fake", "directory", "single_file" or "hub".

    A name that looks like a path but does not exist raises, as does a directory that is not a
    diffusers model or a file that is not a checkpoint.
    """
    name = os.fspath(model)
    if name in BUILT_IN:
        return name
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / folder.MODEL_INDEX).is_file() and not (path / "unet").is_dir():
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
        name.startswith((".", "/", "~"))
        or name.lower().endswith(SINGLE_FILE_SUFFIXES)
        or name.count("/") != 1
    )
    if looks_like_path:
        raise RiffgenError(f"model not found: {name} (no such file or directory)")
    return "hub"


def spectrogram_params_of(model: str | os.PathLike[str]) -> SpectrogramParams:
    """The spectrogram format ``model`` makes, read from its folder's ``riffgen.json`` or a
    checkpoint's sidecar without loading any weights (riffusion's format when neither says)."""
    kind = classify(model)
    if kind == "mini":
        return folder.read_spectrogram_params(resolve_mini())
    if kind == "debug":
        return configs.debug_spec().spectrogram
    if kind == "directory":
        return folder.read_spectrogram_params(Path(os.fspath(model)).expanduser())
    if kind == "single_file":
        return folder.read_sidecar(Path(os.fspath(model)).expanduser())
    if kind == "hub":
        return folder.read_spectrogram_params(_hub_snapshot(os.fspath(model)))
    return SpectrogramParams()  # fake: riffusion's format


def model_defaults_of(model: str | os.PathLike[str]) -> dict[str, Any]:
    """The generation settings ``model`` recommends (its folder's ``riffgen.json``
    "defaults", e.g. ``{"steps": 20}`` for mini), read without loading any weights; {} for
    a model that names none (debug, fake, single files)."""
    kind = classify(model)
    if kind == "mini":
        return folder.read_model_defaults(resolve_mini())
    if kind == "directory":
        return folder.read_model_defaults(Path(os.fspath(model)).expanduser())
    if kind == "hub":
        return folder.read_model_defaults(_hub_snapshot(os.fspath(model)))
    return {}


def missing_model_message(model_id: str) -> str:
    return (
        f"model {model_id!r} is not in the Hugging Face cache and could not be downloaded: "
        f"download it where there is network (`huggingface-cli download {model_id}`) and copy "
        "~/.cache/huggingface here, or pass --model with a local diffusers directory or a "
        ".safetensors/.ckpt file"
    )


# ---------------------------------------------------------------------------- loading


def load_components(
    model: str | os.PathLike[str], *, dtype: torch.dtype = torch.float32
) -> Components:
    """Load the components of ``model`` on the CPU in ``dtype`` (move them with ``.to`` later)."""
    kind = classify(model)
    source = os.fspath(model)
    if kind == "fake":
        raise RiffgenError("the fake model has no weights: load it with riffgen.diffusion")
    if kind == "debug":
        return _cast(build_components(configs.debug_spec(), seed=0), dtype)
    if kind == "mini":
        parts = load_directory(resolve_mini(), dtype=dtype)
        parts.source, parts.kind = MINI_NAME, "mini"
        return parts
    if kind == "directory":
        return load_directory(Path(source).expanduser(), dtype=dtype)
    if kind == "single_file":
        return _load_single_file(Path(source).expanduser(), dtype)
    parts = load_directory(_hub_snapshot(source), dtype=dtype)
    parts.source, parts.kind = source, "hub"
    return parts


def _component_class(library: str, class_name: str) -> Any:
    if library not in ("diffusers", "transformers"):
        raise RiffgenError(f"model component library {library!r} is not supported")
    try:
        return getattr(importlib.import_module(library), class_name)
    except (ImportError, AttributeError):
        raise RiffgenError(
            f"model component class {library}.{class_name} is not available"
        ) from None


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Silence diffusers'/transformers' warnings and progress bars a user cannot act on
    (e.g. "BertModel is not the CLIPTextModel SD expects"); errors still raise."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    levels = (diffusers_logging.get_verbosity(), transformers_logging.get_verbosity())
    bars = transformers_logging.is_progress_bar_enabled()
    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        diffusers_logging.set_verbosity(levels[0])
        transformers_logging.set_verbosity(levels[1])
        if bars:
            transformers_logging.enable_progress_bar()


def load_directory(path: Path, *, dtype: torch.dtype = torch.float32) -> Components:
    """A diffusers model folder: the component classes its ``model_index.json`` names."""
    index = folder.read_model_index(path) if (path / folder.MODEL_INDEX).is_file() else None
    if index is None:
        index = folder.model_index(packaged_text=text.has_marker(path))
    parts: dict[str, Any] = {}
    ref = None
    with quiet_libraries():
        if text.has_marker(path):  # the text encoder is a pip package, not stored here
            ref = text.read_marker(path, "text_encoder")
            parts["text_encoder"] = text.packaged_text_encoder(ref, dtype=dtype)
            parts["tokenizer"] = text.packaged_tokenizer(text.read_marker(path, "tokenizer"))
        for name in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
            if name in parts:
                continue
            spec = index.get(name)
            if not (isinstance(spec, list) and len(spec) == 2 and all(spec)):
                raise RiffgenError(f"{path} has no {name} (model_index.json)")
            cls = _component_class(*spec)
            kwargs: dict[str, Any] = {}
            if name in ("unet", "vae", "text_encoder"):
                kwargs["dtype"] = dtype  # loaded straight into dtype: no second full copy
            if spec[0] == "diffusers" and name != "scheduler":
                kwargs["low_cpu_mem_usage"] = True
            try:
                parts[name] = cls.from_pretrained(str(path / name), **kwargs)
            except Exception as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise RiffgenError(f"cannot load {name} from {path / name}: {first}") from exc
    return Components(
        **parts,
        spectrogram_params=folder.read_spectrogram_params(path),
        source=str(path),
        kind="directory",
        source_dir=path,
        text_encoder_ref=ref,
        defaults=folder.read_model_defaults(path),
    )


def _hub_snapshot(model_id: str) -> Path:
    """The cached snapshot folder of a hub model (downloaded once when online)."""
    from huggingface_hub import snapshot_download

    patterns = [
        "model_index.json",
        *(f"{p}/*" for p in ("unet", "vae", "text_encoder", "tokenizer", "scheduler")),
    ]
    try:
        return Path(snapshot_download(model_id, local_files_only=True, allow_patterns=patterns))
    except Exception as cached_exc:  # not cached: try the network once, unless offline
        if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
            raise RiffgenError(missing_model_message(model_id)) from cached_exc
        try:
            return Path(snapshot_download(model_id, allow_patterns=patterns))
        except Exception as exc:
            raise RiffgenError(missing_model_message(model_id)) from exc


def write_sd15_config(out_dir: Path) -> Path:
    """The SD1.5 (= riffusion-model-v1) configs, no weights (what ``from_single_file`` reads)."""
    return configs.write_config_folder(configs.sd15_spec(), out_dir)


def _load_single_file(path: Path, dtype: torch.dtype) -> Components:
    """Original SD1.x checkpoint layout, using SD1.5 configs written locally."""
    from diffusers import StableDiffusionPipeline  # only this rare path imports a pipeline

    with tempfile.TemporaryDirectory(prefix="riffgen-sd15-config-") as config_dir:
        write_sd15_config(Path(config_dir))
        try:
            with quiet_libraries():
                pipe = StableDiffusionPipeline.from_single_file(
                    str(path),
                    config=config_dir,
                    local_files_only=True,
                    dtype=dtype,
                    safety_checker=None,
                    feature_extractor=None,
                    requires_safety_checker=False,
                )
        except RiffgenError:
            raise
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RiffgenError(
                f"cannot load {path.name} as a Stable Diffusion 1.x checkpoint: {first}"
            ) from exc
    return Components(
        unet=pipe.unet,
        vae=pipe.vae,
        text_encoder=pipe.text_encoder,
        tokenizer=pipe.tokenizer,
        scheduler=pipe.scheduler,
        spectrogram_params=folder.read_sidecar(path),
        source=str(path),
        kind="single_file",
    )


# ---------------------------------------------------------------------------- building, saving


def build_components(spec: ModelSpec, *, seed: int = 0) -> Components:
    """Random-initialised components of ``spec`` (real diffusers/transformers classes)."""
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**spec.unet)
    vae = AutoencoderKL(**spec.vae)
    ref = None
    with quiet_libraries():
        if spec.text is None:
            ref = text.marker_data(max_tokens=spec.max_tokens, tempo_token=spec.tempo_token)
            encoder, tokenizer = text.packaged_text_encoder(ref), text.packaged_tokenizer(ref)
        else:
            from transformers import CLIPTextConfig, CLIPTextModel

            encoder, tokenizer = (
                CLIPTextModel(CLIPTextConfig(**spec.text)),
                text.load_clip_tokenizer(),
            )
    return Components(
        unet=unet,
        vae=vae,
        text_encoder=encoder,
        tokenizer=tokenizer,
        scheduler=PNDMScheduler(**spec.scheduler),
        spectrogram_params=spec.spectrogram,
        source=spec.name,
        kind="built",
        text_encoder_ref=ref,
    )


def _cast(parts: Components, dtype: torch.dtype) -> Components:
    with quiet_libraries():  # diffusers warns about casting with .to() even when it is fine
        for module in parts.modules():
            if module.dtype != dtype:
                module.to(dtype)
    return parts


def write_parts(parts: Components, target: Path, *, unet: Any = None) -> None:
    """Write every component of ``parts`` into the folder ``target`` (created or merged)."""
    target.mkdir(parents=True, exist_ok=True)
    with quiet_libraries():
        _write_parts(parts, target, unet=unet)


def _write_parts(parts: Components, target: Path, *, unet: Any) -> None:
    (unet or parts.unet).save_pretrained(str(target / "unet"), safe_serialization=True)
    parts.vae.save_pretrained(str(target / "vae"), safe_serialization=True)
    parts.scheduler.save_pretrained(str(target / "scheduler"))
    ref = parts.text_encoder_ref
    if ref is not None:
        text.write_markers(
            target,
            max_tokens=int(ref.get("model_max_length", text.MAX_TOKENS)),
            tempo_token=bool(ref.get("tempo_token")),
        )
    else:
        parts.text_encoder.save_pretrained(str(target / "text_encoder"), safe_serialization=True)
        parts.tokenizer.save_pretrained(str(target / "tokenizer"))
    index = folder.model_index(packaged_text=ref is not None)
    index["scheduler"] = ["diffusers", type(parts.scheduler).__name__]
    (target / folder.MODEL_INDEX).write_text(_json(index))
    folder.write_spectrogram_params(target, parts.spectrogram_params)
    if parts.defaults:  # a loaded model's recommended settings travel with it
        folder.write_model_defaults(target, parts.defaults)


def save_model(parts: Components, out_dir: str | os.PathLike[str], *, unet: Any = None) -> Path:
    """Write ``parts`` as a new riffgen model folder (see :mod:`riffgen.models.folder`).

    ``unet`` replaces the components' UNet (a trained one). The folder is written beside the
    target and renamed into place, so a reader never sees half a model.
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_parts(parts, tmp, unet=unet)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2) + "\n"


def build_model(spec: ModelSpec | str, out_dir: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Write a random-initialised model of ``spec`` (or a known shape's name) to ``out_dir``."""
    if isinstance(spec, str):
        spec = configs.get_spec(spec)
    return save_model(build_components(spec, seed=seed), out_dir)
