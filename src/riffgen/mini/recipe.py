"""The whole mini-model recipe: data -> initial model -> VAE -> UNet -> fp16 export -> check.

Every stage prints its timing; :func:`run` returns them. Data generation needs FluidSynth (make
it on a CPU machine, then pass ``dataset=`` to train anywhere, GPU included).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from riffgen.errors import RiffgenError
from riffgen.mini.config import MINI_DEFAULT_STEPS, SCALES, MiniArchitecture, MiniTrainScale
from riffgen.models.text import MARKER

REPORT = "train_mini_report.json"


@dataclass
class RunOptions:
    work_dir: Path
    out_dir: Path  # where the final fp16 model goes (src/riffgen/data/models/mini for make)
    scale: MiniTrainScale = field(default_factory=lambda: SCALES["full"])
    dataset: Path | None = None  # an existing dataset (skips data generation)
    data_only: bool = False
    workers: int = 2
    device: str | None = None  # None: cuda when available, else cpu
    cpu_threads: int | None = None
    seed: int = 0
    progress: bool = True
    check_prompt: str = "a calm solo piano melody, slow tempo"
    check_steps: int = 20  # denoising steps of the timed generation at the end
    # The instrument classifier `riffgen evaluate` uses, trained on the same renders (None:
    # not trained); and how many held-out prompts per set the final adherence check uses.
    classifier_out: Path | None = None
    fit_classifier: bool = True  # False: score with the classifier already at classifier_out
    eval_prompts: int = 10
    # Fine-tune instead of training from scratch: start from this mini model's VAE (kept as
    # is) and UNet (trained further), e.g. the shipped v1 to make v2 with the tempo token.
    init_from: Path | None = None
    tempo_token: bool = True


def _stage(report: dict[str, Any], name: str, start: float, **extra: Any) -> None:
    seconds = round(time.perf_counter() - start, 1)
    report["stages"][name] = {"seconds": seconds, **extra}
    print(f"== {name}: {seconds} s {json.dumps(extra) if extra else ''}", flush=True)


def run(options: RunOptions) -> dict[str, Any]:
    """Run the recipe; returns (and writes to ``work_dir/train_mini_report.json``) the timings."""
    from riffgen.models.configs import mini_spec
    from riffgen.models.registry import build_model

    scale, work = options.scale, Path(options.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    if options.cpu_threads:
        torch.set_num_threads(options.cpu_threads)
    report: dict[str, Any] = {"scale": asdict(scale), "stages": {}}
    total = time.perf_counter()

    dataset = options.dataset
    if dataset is None:
        start = time.perf_counter()
        from riffgen.mini.data import write_mini_dataset  # FluidSynth: only where data is made

        dataset = work / "data"
        info = write_mini_dataset(
            dataset,
            n=scale.n_clips,
            n_test=scale.n_test,
            seed=options.seed,
            workers=options.workers,
            progress=options.progress,
        )
        _stage(report, "data", start, clips=info["train"], test_clips=info["test"])
        if options.data_only:
            return report
    elif not Path(dataset).is_dir():
        raise RiffgenError(f"dataset folder not found: {dataset}")
    else:
        from riffgen.mini.config import MINI_SPECTROGRAM
        from riffgen.mini.data import convert_dataset, dataset_height

        if dataset_height(dataset) != MINI_SPECTROGRAM.num_frequencies:
            # e.g. scripts/make_synth_dataset.py's riffusion-size (512-mel) images
            start = time.perf_counter()
            dataset = convert_dataset(dataset, work / "data-converted")
            _stage(report, "convert", start, mels=MINI_SPECTROGRAM.num_frequencies)

    if options.classifier_out is not None and options.fit_classifier:
        start = time.perf_counter()
        _stage(report, "classifier", start, **train_classifier(dataset, options.classifier_out))

    start = time.perf_counter()
    init_dir = work / "init"
    shutil.rmtree(init_dir, ignore_errors=True)
    if options.init_from is not None:
        start_from(Path(options.init_from), init_dir, tempo_token=options.tempo_token)
        _stage(report, "build", start, init_from=str(options.init_from))
    else:
        arch = MiniArchitecture(tempo_token=options.tempo_token)
        build_model(mini_spec(arch), init_dir, seed=options.seed)
        _stage(report, "build", start)
        _train_vae_stage(report, options, init_dir, dataset)
    unet_dir = _train_unet_stage(report, options, init_dir, dataset)

    start = time.perf_counter()
    sizes = export_fp16(unet_dir, Path(options.out_dir))
    _stage(report, "export", start, **sizes)

    start = time.perf_counter()
    report["check"] = check_generation(
        Path(options.out_dir), prompt=options.check_prompt, steps=options.check_steps
    )
    _stage(report, "check", start, **report["check"])
    if options.eval_prompts > 0 and options.classifier_out is not None:
        start = time.perf_counter()
        report["adherence"] = check_adherence(
            Path(options.out_dir), options.classifier_out, n_per_set=options.eval_prompts
        )
        _stage(report, "adherence", start, top1=report["adherence"]["generated"]["all"]["top1"])
    report["total_seconds"] = round(time.perf_counter() - total, 1)
    text = json.dumps(report, indent=2) + "\n"
    for path in (work / REPORT, Path(options.out_dir) / "training_report.json"):
        path.write_text(text)
    print(f"== total: {report['total_seconds']} s; model in {options.out_dir}", flush=True)
    return report


def _train_vae_stage(
    report: dict[str, Any], options: RunOptions, init_dir: Path, dataset: Path
) -> None:
    from riffgen.mini.vae import VaeTrainConfig, train_vae

    scale = options.scale
    start = time.perf_counter()
    vae_result = train_vae(
        init_dir,
        dataset,
        VaeTrainConfig(
            steps=scale.vae_steps,
            batch_size=scale.vae_batch,
            crop=scale.vae_crop,
            learning_rate=scale.vae_lr,
            seed=options.seed,
            device=options.device,
        ),
        progress=options.progress,
    )
    _stage(
        report,
        "vae",
        start,
        steps_per_second=round(vae_result.steps_per_second, 3),
        batch=scale.vae_batch,
        crop=scale.vae_crop,
        final_loss=round(sum(vae_result.losses[-20:]) / len(vae_result.losses[-20:]), 4),
        recon_l1=round(vae_result.recon_l1, 4),
        scaling_factor=round(vae_result.scaling_factor, 4),
    )


def _train_unet_stage(
    report: dict[str, Any], options: RunOptions, init_dir: Path, dataset: Path
) -> Path:
    from riffgen.training.config import TrainConfig
    from riffgen.training.trainer import train

    scale = options.scale
    start = time.perf_counter()
    unet_dir = Path(options.work_dir) / "unet"
    on_gpu = torch.cuda.is_available() and options.device in (None, "auto", "cuda")
    result = train(
        TrainConfig(
            dataset=str(dataset),
            base=str(init_dir),
            output_dir=str(unet_dir),
            max_steps=scale.unet_steps,
            batch_size=scale.unet_batch,
            learning_rate=scale.unet_lr,
            lr_scheduler="cosine",
            warmup_steps=max(1, scale.unet_steps // 50),
            caption_dropout=0.1,  # learn the unconditional prediction for guidance
            cache_latents=True,  # the VAE is frozen now: encode every image once
            checkpoint_every=max(500, scale.unet_steps // 6),
            checkpoints_limit=1,
            # bf16 autocast: 1.4x faster UNet steps on this AMX CPU (measured, batch 8,
            # 1 thread); CPUs without native bf16 would be slower, so they stay in fp32.
            mixed_precision="bf16" if on_gpu or _cpu_has_fast_bf16() else "no",
            device=options.device,
            cpu_threads=options.cpu_threads,
            seed=options.seed,
            progress=options.progress,
            log_every=max(1, min(100, scale.unet_steps // 10)),
            # The trainer's loader still decodes each batch's PNGs (even with cached latents):
            # on a GPU that, not the UNet, limited a batch of 64 to 3.3 steps/s on an H100.
            num_workers=min(8, (os.cpu_count() or 1) - 1) if on_gpu else 0,
        )
    )
    _stage(
        report,
        "unet",
        start,
        steps_per_second=round(result.steps_per_second, 3),
        batch=scale.unet_batch,
        loss_first=round(result.losses[0], 4) if result.losses else None,
        loss_last=round(sum(result.losses[-50:]) / max(1, len(result.losses[-50:])), 4),
    )
    return unet_dir


def start_from(model_dir: Path, init_dir: Path, *, tempo_token: bool) -> None:
    """Copy the mini model ``model_dir`` to ``init_dir`` as the starting point of a fine-tune,
    with the text-encoder marker's ``tempo_token`` set as asked."""
    from riffgen.models import text

    if not text.has_marker(model_dir):
        raise RiffgenError(f"{model_dir} is not a mini model (no packaged text-encoder marker)")
    shutil.copytree(model_dir, init_dir, ignore=shutil.ignore_patterns("training_report.json"))
    marker = text.read_marker(model_dir)
    text.write_markers(
        init_dir,
        max_tokens=int(marker.get("model_max_length", text.MAX_TOKENS)),
        tempo_token=tempo_token,
    )


def export_fp16(model_dir: Path, out_dir: Path) -> dict[str, Any]:
    """Copy a trained mini model to ``out_dir`` with UNet and VAE weights in fp16 safetensors.

    Only what the pipeline needs is written (no checkpoints, logs or training config); the
    previous contents of ``out_dir`` are replaced atomically (written beside it, then renamed).
    The exported ``riffgen.json`` recommends :data:`MINI_DEFAULT_STEPS` denoising steps.
    """
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from riffgen.models.folder import read_model_defaults, write_model_defaults

    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp-export")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    sizes: dict[str, Any] = {}
    for name, cls in (("unet", UNet2DConditionModel), ("vae", AutoencoderKL)):
        model = cls.from_pretrained(str(model_dir / name), torch_dtype=torch.float16)
        sizes[f"{name}_parameters"] = sum(p.numel() for p in model.parameters())
        model.save_pretrained(str(tmp / name), safe_serialization=True)
        weights = tmp / name / "diffusion_pytorch_model.safetensors"
        sizes[f"{name}_mb"] = round(weights.stat().st_size / 1e6, 2)
    shutil.copytree(model_dir / "scheduler", tmp / "scheduler")
    for part in ("text_encoder", "tokenizer"):
        (tmp / part).mkdir()
        shutil.copy2(model_dir / part / MARKER, tmp / part / MARKER)
    for name in ("model_index.json", "riffgen.json"):
        shutil.copy2(model_dir / name, tmp / name)
    write_model_defaults(tmp, {**read_model_defaults(tmp), "steps": MINI_DEFAULT_STEPS})
    if out_dir.exists():
        old = out_dir.with_name(out_dir.name + ".old-export")
        shutil.rmtree(old, ignore_errors=True)
        out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out_dir)
    return sizes


def check_generation(model_dir: Path, *, prompt: str, steps: int = 20) -> dict[str, Any]:
    """Load ``model_dir`` through RiffgenPipeline and time one 5.11 s clip (``steps`` steps)."""
    from riffgen.diffusion import RiffgenPipeline

    pipe = RiffgenPipeline.from_pretrained(str(model_dir), device="cpu", dtype="fp32")
    pipe.text_to_audio(prompt, num_inference_steps=2, seed=0)  # warm caches (filterbanks)
    start, cpu = time.perf_counter(), time.process_time()
    out = pipe.text_to_audio(prompt, num_inference_steps=steps, seed=0)
    audio = out.audio
    return {
        "seconds": round(time.perf_counter() - start, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "threads": torch.get_num_threads(),
        "audio_seconds": round(audio.shape[-1] / out.sample_rate, 3),
        "rms": round(float((audio**2).mean() ** 0.5), 4),
    }


def train_classifier(dataset: Path, out: Path) -> dict[str, Any]:
    """Fit the instrument-family classifier on the dataset's training renders, save it to
    ``out`` and score it on the test renders (top-1 per held-out subset)."""
    from riffgen.evaluation.fit import evaluate_split, load_split, train_on_dataset
    from riffgen.synth.dataset import read_metadata

    classifier = train_on_dataset(dataset)
    classifier.save(out)
    test = Path(dataset) / "test"
    if not (test / "metadata.jsonl").is_file() or not read_metadata(test):
        return {"path": str(out)}  # toy runs make no test clips
    reports = evaluate_split(classifier, load_split(test))
    return {"path": str(out), **{f"top1_{k}": round(r.top1, 3) for k, r in reports.items()}}


def check_adherence(model_dir: Path, classifier: Path, *, n_per_set: int) -> dict[str, Any]:
    """``riffgen evaluate`` on the exported model: held-out prompts, generated vs rendered."""
    from riffgen.diffusion import RiffgenPipeline
    from riffgen.evaluation import InstrumentClassifier
    from riffgen.evaluation.adherence import AdherenceConfig, evaluate_adherence

    pipe = RiffgenPipeline.from_pretrained(str(model_dir), device="cpu", dtype="fp32")
    result = evaluate_adherence(
        pipe, InstrumentClassifier.load(classifier), AdherenceConfig(n_per_set=n_per_set)
    )
    print(result.table(), flush=True)
    payload = result.to_json()
    payload.pop("clips")
    return payload


def _cpu_has_fast_bf16() -> bool:
    """Whether this CPU does bf16 matmuls natively (AMX / AVX512-BF16)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
