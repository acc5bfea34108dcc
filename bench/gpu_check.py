"""One-shot GPU check of riffgen: real-time factor of text-to-audio and LoRA training speed.

Meant to run once on a borrowed GPU machine without network, in well under 4 minutes:

    pip install --no-deps diffusers-*.whl          # diffusers is the one missing package
    python bench/gpu_check.py                      # riffgen from ./src if not installed
    python bench/gpu_check.py --tiny --device cpu  # small shapes: checks the code paths here

What it measures, on a full-size SD1.5-shaped model with random weights (UNet 860 M, VAE
84 M, CLIP text encoder 123 M parameters, built by ``riffgen.models`` from its SD1.5 spec,
nothing downloaded; ``--tiny``: its debug spec):

1. ``RiffgenPipeline.text_to_audio`` for one 512x512 image (5.11 s of audio) in fp16 at 50
   and at 20 steps (PNDM), including the spectrogram -> audio decode on the GPU, which is also
   timed on its own (inside the call, and as separate ``riffgen.image_to_audio`` calls).
   Real-time factor RTF = compute time / audio duration (below 1: faster than real time).
2. One LoRA training step (rank 4 on the attention projections to_q/to_k/to_v/to_out.0,
   512x512, batch 1, bf16 autocast) as steps/s, driven through riffgen's own ``Trainer``
   (given the in-memory model as ``Trainer(config, components=...)``; the dataset is two
   packaged seed spectrograms). If that fails, a minimal equivalent peft loop is timed
   instead (the output says which).

Every section runs in try/except: an error is printed and the next section runs. Results are
printed as ``RESULT key = value`` lines plus a summary, and written as JSON after every
section to ``--json`` (default ``$OUT/gpu_results.json`` when ``OUT`` is set), so a run cut
short still leaves what it measured. A watchdog dumps the stack and exits after
``--hard-timeout-s`` (default 230 s).

Only torch, numpy, Pillow, transformers, accelerate, peft, safetensors, tqdm and diffusers are
needed: riffgen modules import soundfile and soxr (audio files) and scipy (inpainting masks) at
import time although nothing here uses them, so where those are missing stand-ins are put in
place while riffgen is imported and removed again afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import importlib
import importlib.machinery
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from riffgen.models.configs import ModelSpec
    from riffgen.models.registry import Components

T0 = time.perf_counter()
REPO = Path(__file__).resolve().parents[1]
PROMPT = "funky synth solo, 120 bpm"
LORA_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]
# Packages riffgen imports at module level but this script never uses (see the docstring).
STUBBABLE = ("soundfile", "soxr", "scipy.ndimage")
_ABSENT = object()

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")


def elapsed() -> float:
    return time.perf_counter() - T0


def say(text: str) -> None:
    print(text, flush=True)


# ---------------------------------------------------------------------------- results


class Results:
    """Section results, printed as they come and saved as JSON after every section."""

    def __init__(self, path: Path | None, args: argparse.Namespace) -> None:
        self.path = path
        self.data: dict[str, Any] = {
            "script": "bench/gpu_check.py",
            "args": vars(args),
            "sections": {},
        }

    def put(self, section: str, key: str, value: Any) -> None:
        self.data["sections"].setdefault(section, {})[key] = value
        shown = f"{value:.4g}" if isinstance(value, float) else value
        say(f"RESULT {section}.{key} = {shown}")

    def save(self) -> None:
        self.data["elapsed_s"] = round(elapsed(), 2)
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(self.data, indent=2, default=str) + "\n")
            os.replace(tmp, self.path)
        except OSError as exc:
            say(f"cannot write {self.path}: {exc}")

    def section(self, name: str, fn: Callable[[], Any], *, budget_s: float) -> Any:
        """Run ``fn``; on error print the traceback, record it and return None."""
        entry = self.data["sections"].setdefault(name, {})
        if elapsed() > budget_s:
            entry.update(ok=False, skipped=f"time budget of {budget_s:.0f} s used up")
            say(f"== {name}: SKIPPED (time budget used up at {elapsed():.0f} s)")
            self.save()
            return None
        say(f"\n== {name} (t = {elapsed():.1f} s)")
        started = time.perf_counter()
        try:
            out = fn()
            entry["ok"] = True
        except Exception as exc:  # keep going: one broken section must not cost the others
            traceback.print_exc()
            entry.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:2000])
            say(f"== {name}: FAILED ({type(exc).__name__}: {str(exc)[:300]})")
            out = None
        entry["section_s"] = round(time.perf_counter() - started, 3)
        self.save()
        return out


# ---------------------------------------------------------------------------- imports


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
        return True
    except Exception:  # ImportError, or OSError from a missing shared library (libsndfile)
        return False


def _stub_module(name: str) -> types.ModuleType:
    """A stand-in whose every attribute is a function raising ImportError when called."""

    def __getattr__(attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)

        def missing(*_args: Any, **_kwargs: Any) -> Any:
            raise ImportError(f"{name} is not installed (stand-in from gpu_check.py)")

        return missing

    module = types.ModuleType(name)
    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    module.__path__ = []  # lets "scipy.ndimage" resolve below a stand-in "scipy"
    return module


def import_riffgen(modules: list[str]) -> dict[str, Any]:
    """Import riffgen modules (from ./src if riffgen is not installed), with stand-ins for
    missing soundfile/soxr/scipy in place only during the import. -> what happened."""
    try:
        importlib.util.find_spec("riffgen")
        found = importlib.util.find_spec("riffgen") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        sys.path.insert(0, str(REPO / "src"))
    missing = [name for name in STUBBABLE if not _importable(name)]
    previous: dict[str, Any] = {}  # name -> what sys.modules held (None: a blocked import)
    for name in missing:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            sub = ".".join(parts[:i])
            if sys.modules.get(sub) is None:
                previous[sub] = sys.modules.get(sub, _ABSENT)
                sys.modules[sub] = _stub_module(sub)
                if i > 1:
                    setattr(sys.modules[".".join(parts[: i - 1])], parts[i - 1], sys.modules[sub])
    errors = {}
    try:
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception as exc:
                errors[module] = f"{type(exc).__name__}: {exc}"
                say(f"cannot import {module}: {type(exc).__name__}: {exc}")
    finally:
        for name, before in previous.items():  # later imports see the truth again
            if before is _ABSENT:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = before
    riffgen = sys.modules.get("riffgen")
    return {
        "riffgen_from": getattr(riffgen, "__file__", None),
        "stand_ins_used": missing,
        "import_errors": errors,
    }


def package_versions() -> dict[str, str]:
    from importlib import metadata

    names = [
        "torch",
        "diffusers",
        "transformers",
        "accelerate",
        "peft",
        "safetensors",
        "numpy",
        "Pillow",
        "tokenizers",
        "huggingface-hub",
        "tqdm",
        "requests",
        "regex",
        "filelock",
        "scipy",
        "soundfile",
        "soxr",
        "riffgen",
    ]
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "MISSING"
    return out


# ---------------------------------------------------------------------------- timing


def sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_gib(device: Any) -> float | None:
    import torch

    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)


@contextlib.contextmanager
def timed_decode(device: Any, sink: list[float]) -> Iterator[None]:
    """Time the pipeline's own spectrogram -> audio call (device drained on both sides)."""
    from riffgen.diffusion import pipeline as pipeline_module

    real = pipeline_module.image_to_audio

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        sync(device)
        started = time.perf_counter()
        out = real(*args, **kwargs)
        sync(device)
        sink.append(time.perf_counter() - started)
        return out

    pipeline_module.image_to_audio = wrapped
    try:
        yield
    finally:
        pipeline_module.image_to_audio = real


# ---------------------------------------------------------------------------- the model


class State:
    """What the sections share."""

    device: Any = None
    dtype: Any = None
    parts: Components | None = None
    params: Any = None  # SpectrogramParams
    width: int = 512
    pipe: Any = None
    last_image: Any = None


def model_spec(tiny: bool) -> ModelSpec:
    """riffgen's SD1.5 spec, or (``tiny``) its debug spec: the same layout, CPU-sized."""
    from riffgen.audio import SpectrogramParams
    from riffgen.models.configs import debug_spec, sd15_spec

    if tiny:
        return debug_spec(spectrogram=SpectrogramParams(num_frequencies=64))
    return sd15_spec()


def build_on(spec: ModelSpec, device: Any, dtype: Any) -> Components:
    """``build_components(spec)``, initialised straight on the device when possible (fast),
    else on the CPU; the modules are then moved to ``device`` in ``dtype``."""
    import torch

    from riffgen.models.registry import build_components

    try:
        with torch.device(device):
            parts = build_components(spec, seed=0)
    except Exception as exc:
        say(f"  (building on {device} failed: {type(exc).__name__}: {exc}; building on cpu)")
        parts = build_components(spec, seed=0)
    for module in parts.modules():
        module.to(device=device, dtype=dtype).eval()
    return parts


def section_build(state: State, args: argparse.Namespace, res: Results) -> None:
    started = time.perf_counter()
    parts = build_on(model_spec(args.tiny), state.device, state.dtype)
    sync(state.device)
    state.parts = parts
    state.params = parts.spectrogram_params
    state.width = 64 if args.tiny else 512

    def count(m: Any) -> int:
        return sum(p.numel() for p in m.parameters())

    res.put("build", "seconds", round(time.perf_counter() - started, 2))
    res.put("build", "unet_params_M", round(count(parts.unet) / 1e6, 1))
    res.put("build", "vae_params_M", round(count(parts.vae) / 1e6, 1))
    res.put("build", "text_encoder_params_M", round(count(parts.text_encoder) / 1e6, 1))
    res.put("build", "dtype", str(state.dtype).removeprefix("torch."))
    res.put("build", "image_px", f"{state.width}x{state.params.num_frequencies}")


def section_pipeline_warmup(state: State, args: argparse.Namespace, res: Results) -> None:
    from riffgen.diffusion.pipeline import RiffgenPipeline

    assert state.parts is not None, "no model (build failed)"
    state.pipe = RiffgenPipeline.from_components(state.parts, device=state.device)
    state.pipe.model_source = "random SD1.5-shaped weights (gpu_check)"
    sync(state.device)
    started = time.perf_counter()
    state.pipe.text_to_audio(PROMPT, seed=1, num_inference_steps=3, width=state.width)
    sync(state.device)
    res.put("warmup", "seconds_3_steps", round(time.perf_counter() - started, 3))


def section_text_to_audio(state: State, steps: int, res: Results) -> None:
    import numpy as np

    assert state.pipe is not None, "no pipeline (warm-up failed)"
    name = f"text_to_audio_{steps}"
    decode: list[float] = []
    state.pipe._embed_cache.clear()  # a new prompt: the text encoder runs, as for a user
    with timed_decode(state.device, decode):
        sync(state.device)
        started = time.perf_counter()
        out = state.pipe.text_to_audio(PROMPT, seed=0, num_inference_steps=steps, width=state.width)
        sync(state.device)
        total = time.perf_counter() - started
    state.last_image = out.image
    audio_s = out.audio.shape[1] / out.sample_rate
    decode_s = decode[0] if decode else float("nan")
    pixels = np.asarray(out.image, dtype=np.float32)
    res.put(name, "total_s", round(total, 4))
    res.put(name, "audio_decode_s", round(decode_s, 4))
    res.put(name, "diffusion_s", round(total - decode_s, 4))
    res.put(name, "audio_s", round(audio_s, 3))
    res.put(name, "rtf", round(total / audio_s, 4))
    res.put(name, "times_realtime", round(audio_s / total, 2))
    res.put(name, "rtf_without_audio_decode", round((total - decode_s) / audio_s, 4))
    res.put(name, "steps_per_s_incl_text_and_vae", round(steps / (total - decode_s), 2))
    res.put(name, "image_mean_std", [round(float(pixels.mean()), 1), round(float(pixels.std()), 1)])
    res.put(name, "audio_finite", bool(np.isfinite(out.audio).all()))
    res.put(name, "audio_peak", round(float(np.abs(out.audio).max()), 3))
    res.put(name, "peak_gpu_mem_GiB", peak_memory_gib(state.device))


def section_decode(state: State, res: Results) -> None:
    from riffgen.audio import image_to_audio

    assert state.last_image is not None, "no image (text_to_audio failed)"
    times = []
    for _ in range(3):
        sync(state.device)
        started = time.perf_counter()
        audio, sr = image_to_audio(state.last_image, state.params, seed=0, device=state.device)
        sync(state.device)
        times.append(time.perf_counter() - started)
    res.put("image_to_audio", "riffgen_s", [round(t, 4) for t in times])
    res.put("image_to_audio", "riffgen_median_s", round(statistics.median(times), 4))
    res.put("image_to_audio", "audio_s", round(audio.shape[1] / sr, 3))
    sync(state.device)
    started = time.perf_counter()
    image_to_audio(
        state.last_image, state.params, seed=0, device=state.device, algorithm="original"
    )
    sync(state.device)
    res.put("image_to_audio", "original_griffin_lim_s", round(time.perf_counter() - started, 4))


# ---------------------------------------------------------------------------- training


def write_dataset(root: Path, *, size: tuple[int, int]) -> Path:
    """Two packaged seed spectrograms (RGB, ``size`` = (width, height)) + metadata.jsonl."""
    from importlib import resources

    from PIL import Image

    train = root / "train"
    train.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, caption in (("marimba_100", "marimba, 100 bpm"), ("beat_120", "drum beat, 120 bpm")):
        path = resources.files("riffgen") / "data" / "seed_images" / f"{name}.png"
        with Image.open(str(path)) as im:
            image = im.convert("RGB").resize(size, resample=Image.LANCZOS)
        image.save(train / f"{name}.png")
        rows.append(json.dumps({"file_name": f"{name}.png", "text": caption}))
    (train / "metadata.jsonl").write_text("\n".join(rows) + "\n")
    return root


def section_train_riffgen(
    state: State, args: argparse.Namespace, res: Results, *, warm: int, timed: int
) -> None:
    from riffgen.training.config import TrainConfig
    from riffgen.training.trainer import Trainer

    assert state.parts is not None, "no model (build failed)"
    size = (state.width, state.params.num_frequencies)
    with tempfile.TemporaryDirectory(prefix="riffgen-gpu-check-") as tmp:
        config = TrainConfig(
            dataset=str(write_dataset(Path(tmp) / "data", size=size)),
            base="",  # the in-memory model is passed as components
            output_dir=str(Path(tmp) / "out"),
            lora_rank=4,
            lora_targets=list(LORA_TARGETS),
            max_steps=warm + timed,
            batch_size=1,
            mixed_precision=args.train_precision,
            checkpoint_every=0,
            log_every=0,
            progress=False,
            device=state.device.type,
            seed=0,
        )
        trainer = Trainer(config, components=state.parts)
        result = trainer.run()
    steps = result.step_seconds[warm:]
    med = statistics.median(steps)
    name = "train_lora_riffgen"
    res.put(name, "driver", "riffgen.training.trainer.Trainer (in-memory base model)")
    settings = (
        f"LoRA r4 {LORA_TARGETS}, {size[0]}x{size[1]}, batch 1, {args.train_precision}"
        " autocast, no latent cache (VAE encode in each step)"
    )
    res.put(name, "settings", settings)
    res.put(name, "trainable_params", sum(t.numel() for t in trainer.trainable))
    res.put(name, "step_s", [round(s, 4) for s in result.step_seconds])
    res.put(name, "steps_per_s", round(1.0 / med, 3))
    res.put(name, "median_step_s", round(med, 4))
    res.put(name, "losses", [round(x, 4) for x in result.losses])
    res.put(name, "peak_gpu_mem_GiB", peak_memory_gib(state.device))


def section_train_minimal(
    state: State, args: argparse.Namespace, res: Results, *, warm: int, timed: int
) -> None:
    """The same step without riffgen: peft LoRA, DDPM noise, MSE, AdamW, autocast."""
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler
    from peft import LoraConfig

    p = state.parts
    assert p is not None, "no model (build failed)"
    dev = state.device
    low = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.train_precision)
    weights = low or torch.float32
    unet, vae, text = p.unet, p.vae, p.text_encoder
    for frozen in (unet, vae, text):
        frozen.requires_grad_(False)
        frozen.to(dev, weights)
    if not getattr(unet, "peft_config", None):  # the riffgen run may have added one already
        unet.add_adapter(
            LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian", target_modules=LORA_TARGETS)
        )
    trainable = []
    for name, param in unet.named_parameters():
        if "lora_" in name:
            param.data = param.data.float()
            param.requires_grad_(True)
            trainable.append(param)
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    scaler = torch.amp.GradScaler(dev.type, enabled=low is torch.float16)
    scheduler = DDPMScheduler.from_config(
        {k: v for k, v in p.scheduler_config.items() if not k.startswith("_")}
    )
    h, w = state.params.num_frequencies, state.width
    pixels = torch.rand(1, 3, h, w, device=dev, dtype=weights) * 2 - 1
    ids = p.tokenizer(
        "marimba, 100 bpm", padding="max_length", max_length=77, return_tensors="pt"
    ).input_ids.to(dev)
    with torch.no_grad():
        embeddings = text(ids)[0]
    unet.train()
    times, losses = [], []
    for _ in range(warm + timed):
        sync(dev)
        started = time.perf_counter()
        with torch.no_grad():
            latents = vae.encode(pixels).latent_dist.sample() * vae.config.scaling_factor
        noise = torch.randn_like(latents)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (1,), device=dev)
        noisy = scheduler.add_noise(latents, noise, t)
        with torch.autocast(dev.type, dtype=weights, enabled=low is not None):
            prediction = unet(noisy, t, embeddings).sample
        loss = F.mse_loss(prediction.float(), noise.float())
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))  # also drains the device
        times.append(time.perf_counter() - started)
    med = statistics.median(times[warm:])
    name = "train_lora_minimal"
    res.put(name, "driver", "minimal peft loop in gpu_check.py (not riffgen's Trainer)")
    settings = (
        f"LoRA r4 {LORA_TARGETS}, {w}x{h}, batch 1, {args.train_precision} autocast,"
        " VAE encode in each step"
    )
    res.put(name, "settings", settings)
    res.put(name, "trainable_params", sum(t.numel() for t in trainable))
    res.put(name, "step_s", [round(s, 4) for s in times])
    res.put(name, "steps_per_s", round(1.0 / med, 3))
    res.put(name, "losses", [round(x, 4) for x in losses])
    res.put(name, "peak_gpu_mem_GiB", peak_memory_gib(dev))


# ---------------------------------------------------------------------------- main


def summary(res: Results) -> None:
    s = res.data["sections"]
    say("\n==== SUMMARY ====")
    for name in [n for n in s if n.startswith("text_to_audio_")]:
        r, steps = s[name], name.rsplit("_", 1)[1]
        if "rtf" in r:
            say(
                f"text_to_audio {steps} steps: {r['total_s']:.2f} s for {r['audio_s']:.2f} s of"
                f" audio -> RTF {r['rtf']:.3f} ({r['times_realtime']:.1f}x real time);"
                f" audio decode {r['audio_decode_s']:.3f} s, diffusion {r['diffusion_s']:.2f} s"
            )
        else:
            say(f"text_to_audio {steps} steps: no result ({r.get('error') or r.get('skipped')})")
    d = s.get("image_to_audio", {})
    if "riffgen_median_s" in d:
        say(
            f"image_to_audio alone: median {d['riffgen_median_s']:.3f} s (runs {d['riffgen_s']});"
            f" original Griffin-Lim {d.get('original_griffin_lim_s', float('nan')):.3f} s"
        )
    for name in ("train_lora_riffgen", "train_lora_minimal"):
        t = s.get(name, {})
        if "steps_per_s" in t:
            say(f"LoRA training ({t['driver']}): {t['steps_per_s']:.2f} steps/s; {t['settings']}")
        elif t:
            say(f"{name}: no result ({t.get('error') or t.get('skipped')})")
    failed = [n for n, v in s.items() if not v.get("ok", True)]
    say(f"failed or skipped sections: {failed or 'none'}; total {elapsed():.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="small shapes (CPU code-path check)")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--dtype", default=None, help="pipeline dtype; default fp16 on cuda")
    parser.add_argument("--train-precision", default="bf16", choices=("bf16", "fp16", "no"))
    parser.add_argument(
        "--train",
        default="riffgen",
        choices=("riffgen", "minimal", "both", "none"),
        help="riffgen's Trainer (minimal loop only if it fails), minimal, both or none",
    )
    parser.add_argument("--steps", default="50,20", help="text_to_audio step counts")
    parser.add_argument("--json", default=None, help="default: $OUT/gpu_results.json")
    parser.add_argument("--budget-s", type=float, default=200.0, help="skip sections after")
    parser.add_argument("--hard-timeout-s", type=float, default=230.0, help="watchdog exit")
    args = parser.parse_args(argv)
    faulthandler.dump_traceback_later(args.hard_timeout_s, exit=True)

    json_path = Path(args.json) if args.json else None
    if json_path is None and os.environ.get("OUT"):
        json_path = Path(os.environ["OUT"]) / "gpu_results.json"
    res = Results(json_path, args)
    state = State()
    say(f"gpu_check: JSON -> {json_path or '(none: pass --json or set OUT)'}")

    def env() -> None:
        import torch

        res.put("env", "python", platform.python_version())
        res.put("env", "packages", package_versions())
        state.device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
        default = "fp16" if state.device.type == "cuda" else "fp32"
        state.dtype = dtypes[(args.dtype or default).lower()]
        res.put("env", "device", str(state.device))
        res.put("env", "torch_cuda", torch.version.cuda)
        if state.device.type == "cuda":
            props = torch.cuda.get_device_properties(state.device)
            res.put("env", "gpu", f"{props.name}, {props.total_memory / 2**30:.0f} GiB")
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        else:
            res.put("env", "cpu_threads", torch.get_num_threads())
        import diffusers  # noqa: F401  (real imports first, before any stand-in exists)
        import transformers  # noqa: F401

        info = import_riffgen(
            [
                "riffgen",
                "riffgen.models.registry",
                "riffgen.diffusion.pipeline",
                "riffgen.training.trainer",
            ]
        )
        for key, value in info.items():
            res.put("env", key, value)

    res.section("env", env, budget_s=1e9)
    if state.device is None:
        summary(res)
        return 1
    budget = args.budget_s
    res.section("build", lambda: section_build(state, args, res), budget_s=budget)
    res.section("warmup", lambda: section_pipeline_warmup(state, args, res), budget_s=budget)
    for steps in [int(s) for s in args.steps.split(",") if s.strip()]:
        res.section(
            f"text_to_audio_{steps}",
            lambda steps=steps: section_text_to_audio(state, steps, res),
            budget_s=budget,
        )
    res.section("image_to_audio", lambda: section_decode(state, res), budget_s=budget)
    warm, timed = (1, 2) if args.tiny else (3, 10)
    ok = False
    if args.train in ("riffgen", "both"):
        ok = res.section(
            "train_lora_riffgen",
            lambda: section_train_riffgen(state, args, res, warm=warm, timed=timed) or True,
            budget_s=budget,
        )
    if args.train in ("minimal", "both") or (args.train == "riffgen" and not ok):
        res.section(
            "train_lora_minimal",
            lambda: section_train_minimal(state, args, res, warm=warm, timed=timed),
            budget_s=budget,
        )
    summary(res)
    res.save()
    faulthandler.cancel_dump_traceback_later()
    return 0


if __name__ == "__main__":
    sys.exit(main())
