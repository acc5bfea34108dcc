"""``riffgen prepare-dataset`` and ``riffgen train``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from riffgen.errors import RiffgenError


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_prepare(subparsers)
    _register_train(subparsers)


# --------------------------------------------------------------------------- prepare-dataset


def _register_prepare(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prepare-dataset",
        help="slice an audio folder into a spectrogram-image training set",
        description=(
            "Slice every audio file below AUDIO_DIR (recursively) into clips, skip silent ones, "
            "and write their spectrogram images plus train/metadata.jsonl (a Hugging Face "
            "imagefolder dataset) to OUT_DIR. Re-running resumes: clips already written are "
            "skipped. Captions come from --captions, else a .txt file beside the audio, else "
            "the folder and file names (jazz/smooth_sax_01.wav -> 'jazz, smooth sax')."
        ),
    )
    p.add_argument("audio_dir", type=Path, metavar="AUDIO_DIR")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    p.add_argument("--clip-seconds", type=float, default=5.12, help="clip length (default 5.12 s)")
    p.add_argument(
        "--hop-seconds", type=float, default=None, help="between clip starts (default: clip length)"
    )
    p.add_argument(
        "--silence-db",
        type=float,
        default=-50.0,
        metavar="DBFS",
        help="skip clips whose RMS level is below this (default -50 dBFS)",
    )
    p.add_argument(
        "--captions", type=Path, default=None, help="CSV or JSON mapping file name -> caption"
    )
    p.add_argument(
        "--stereo", action="store_true", help="stereo spectrograms (R=0, G=left, B=right)"
    )
    p.add_argument("--min-frequency", type=int, default=None, metavar="HZ")
    p.add_argument("--max-frequency", type=int, default=None, metavar="HZ")
    p.add_argument(
        "--model",
        default=None,
        metavar="MODEL",
        help="write images in this model's spectrogram format (e.g. mini: 128 mel rows), the "
        "format `train --base MODEL` needs (default: riffusion's 512-mel format)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_prepare)


def _prepare(args: argparse.Namespace) -> int:
    from riffgen.audio import SpectrogramParams
    from riffgen.training.prepare import PrepareConfig, prepare_dataset

    changes: dict[str, object] = {"stereo": args.stereo}
    if args.min_frequency is not None:
        changes["min_frequency"] = args.min_frequency
    if args.max_frequency is not None:
        changes["max_frequency"] = args.max_frequency
    if args.model is not None:
        from riffgen.models.registry import spectrogram_params_of

        given = [f for f, v in (("--stereo", args.stereo), ("--min-frequency", args.min_frequency),
                                ("--max-frequency", args.max_frequency)) if v]  # fmt: skip
        if given:
            raise RiffgenError(
                f"{', '.join(given)} cannot be combined with --model: the model's format is used"
            )
        params = spectrogram_params_of(args.model)
    else:
        params = SpectrogramParams(**changes)  # type: ignore[arg-type]
    config = PrepareConfig(
        clip_seconds=args.clip_seconds,
        hop_seconds=args.hop_seconds,
        silence_dbfs=args.silence_db,
        params=params,
        captions=args.captions,
        progress=not args.no_progress,
    )
    summary = prepare_dataset(args.audio_dir, args.out_dir, config)
    print(f"{args.out_dir}: {summary.line()}")
    if summary.total_clips == 0:
        print(
            "riffgen: error: no usable clips (all silent, too short or unreadable)", file=sys.stderr
        )
        return 1
    return 0


# --------------------------------------------------------------------------- train


def _register_train(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="fine-tune the UNet (full or LoRA) on a prepared dataset",
        description=(
            "Fine-tune a model on a dataset written by prepare-dataset. Settings come from "
            "--config (TOML or YAML, see examples/train_config.toml); options given on the "
            "command line override the file. With --lora-rank N only LoRA adapters are trained "
            "and OUT_DIR gets pytorch_lora_weights.safetensors (load with --lora OUT_DIR); "
            "otherwise OUT_DIR is a whole model (load with --model OUT_DIR)."
        ),
    )
    p.add_argument("dataset", type=Path, nargs="?", default=None, metavar="DATASET")
    p.add_argument("--config", type=Path, default=None, help="TOML or YAML file of settings")
    p.add_argument("--base", default=None, metavar="MODEL", help="model to start from")
    p.add_argument("-o", "--output-dir", default=None, metavar="OUT_DIR")
    p.add_argument("--lora-rank", type=int, default=None, metavar="N", help="train LoRA (0: full)")
    p.add_argument("--lora-alpha", type=float, default=None)
    p.add_argument("--max-steps", type=int, default=None, metavar="N")
    p.add_argument("--learning-rate", "--lr", type=float, default=None, dest="learning_rate")
    p.add_argument("--lr-scheduler", choices=["constant", "linear", "cosine"], default=None)
    p.add_argument("--warmup-steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--gradient-accumulation-steps", type=int, default=None, metavar="N")
    p.add_argument("--mixed-precision", choices=["no", "bf16", "fp16"], default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS")
    p.add_argument("--checkpoints-limit", type=int, default=None, metavar="N")
    p.add_argument("--resume", default=None, metavar="latest|PATH")
    p.add_argument("--ema", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--ema-decay", type=float, default=None)
    p.add_argument("--caption-dropout", type=float, default=None, metavar="P")
    p.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--cache-latents", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument(
        "--validation-prompt",
        action="append",
        default=None,
        dest="validation_prompts",
        metavar="TEXT",
        help="rendered to OUT_DIR/validation every --validation-every steps (repeatable)",
    )
    p.add_argument("--validation-every", type=int, default=None, metavar="STEPS")
    p.add_argument(
        "--validation-steps", type=int, default=None, metavar="N", help="denoising steps"
    )
    p.add_argument("--log-every", type=int, default=None, metavar="STEPS")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: accelerate's choice)")
    p.add_argument("--cpu-threads", type=int, default=None, metavar="N", help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)


# Names of train options that map 1:1 onto TrainConfig fields.
_TRAIN_OVERRIDES = (
    "base",
    "output_dir",
    "lora_rank",
    "lora_alpha",
    "max_steps",
    "learning_rate",
    "lr_scheduler",
    "warmup_steps",
    "batch_size",
    "gradient_accumulation_steps",
    "mixed_precision",
    "seed",
    "checkpoint_every",
    "checkpoints_limit",
    "resume",
    "ema",
    "ema_decay",
    "caption_dropout",
    "gradient_checkpointing",
    "cache_latents",
    "validation_prompts",
    "validation_every",
    "validation_steps",
    "log_every",
    "device",
    "cpu_threads",
)


def _train(args: argparse.Namespace) -> int:
    from riffgen.training.config import TrainConfig
    from riffgen.training.trainer import train

    overrides = {k: getattr(args, k) for k in _TRAIN_OVERRIDES if getattr(args, k) is not None}
    if args.dataset is not None:
        overrides["dataset"] = str(args.dataset)
    if args.no_progress:
        overrides["progress"] = False
    config = (
        TrainConfig.load(args.config, overrides)
        if args.config
        else TrainConfig.from_dict(overrides)
    )
    if not config.dataset:
        raise RiffgenError("no dataset: give DATASET or set dataset in the config file")
    if not config.base:
        raise RiffgenError("no base model: give --base MODEL or set base in the config file")
    if not config.output_dir:
        raise RiffgenError("no output folder: give -o OUT_DIR or set output_dir in the config file")
    result = train(config)
    print(result.line())
    return 0
