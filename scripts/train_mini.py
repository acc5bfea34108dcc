#!/usr/bin/env python
"""Build riffgen's own small text-to-music model (``--model mini``) from scratch.

Stages (each timed): synthetic data (FluidSynth, CPU) -> random-initialised model ->
VAE training -> UNet training (riffgen's trainer) -> fp16 export -> one timed generation.

Examples:
    .venv/bin/python scripts/train_mini.py                      # full run -> riffgen/data/models/mini
    .venv/bin/python scripts/train_mini.py --scale quick --out /tmp/mini-quick
    .venv/bin/python scripts/train_mini.py --data-only                       # CPU: data only -> build/mini/data
    .venv/bin/python scripts/train_mini.py --dataset build/mini/data --device cuda  # on a GPU
    .venv/bin/python scripts/train_mini.py --init-from src/riffgen/data/models/mini --seed 1 \
        --keep-classifier --threads 2        # stage 2 of make train-mini (how v1 became v2)
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from riffgen.errors import RiffgenError


def main(argv: list[str] | None = None) -> int:
    from riffgen.mini.config import SCALES
    from riffgen.mini.recipe import RunOptions, run
    from riffgen.models.registry import shipped_mini_dir as shipped_model_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="full", help="default full")
    parser.add_argument(
        "--quick",
        action="store_const",
        const="quick",
        dest="scale",
        help="same as --scale quick (a tiny end-to-end run, minutes)",
    )
    parser.add_argument(
        "--work",
        default="build/mini",
        help="scratch folder: data, checkpoints (default build/mini)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help=f"final model folder (default: the shipped {shipped_model_dir()})",
    )
    parser.add_argument(
        "--classifier-out",
        default=None,
        help="instrument classifier weights (default: the shipped ones when --out is the "
        "shipped folder, else beside OUT: OUT-instrument_classifier.safetensors)",
    )
    parser.add_argument(
        "--keep-classifier",
        action="store_true",
        help="do not retrain the instrument classifier: score with the one at --classifier-out "
        "(a fine-tune stage keeps the evaluator it is measured with)",
    )
    parser.add_argument(
        "--eval-prompts", type=int, default=10, help="held-out prompts per set for the final check"
    )
    parser.add_argument("--dataset", default=None, help="use this dataset, skip data generation")
    parser.add_argument("--data-only", action="store_true", help="only generate the dataset")
    parser.add_argument(
        "--init-from",
        default=None,
        metavar="MODEL_DIR",
        help="fine-tune this mini model (its VAE kept, its UNet trained further) instead of "
        "training from scratch",
    )
    parser.add_argument(
        "--no-tempo-token",
        dest="tempo_token",
        action="store_false",
        help="no explicit tempo token in the text conditioning (mini v1's conditioning)",
    )
    parser.add_argument("--n-clips", type=int, default=None, help="override the scale's clips")
    parser.add_argument("--vae-steps", type=int, default=None)
    parser.add_argument("--unet-steps", type=int, default=None)
    parser.add_argument("--vae-batch", type=int, default=None)
    parser.add_argument("--unet-batch", type=int, default=None)
    parser.add_argument("--unet-lr", type=float, default=None)
    parser.add_argument("--workers", type=int, default=2, help="data render processes")
    parser.add_argument("--device", default=None, help="cpu, cuda (default: cuda if available)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    scale = SCALES[args.scale]
    overrides = {
        k: v
        for k, v in {
            "n_clips": args.n_clips,
            "vae_steps": args.vae_steps,
            "unet_steps": args.unet_steps,
            "vae_batch": args.vae_batch,
            "unet_batch": args.unet_batch,
            "unet_lr": args.unet_lr,
        }.items()
        if v is not None
    }
    scale = dataclasses.replace(scale, **overrides)
    from riffgen.evaluation.report import shipped_classifier_path

    out_dir = Path(args.out) if args.out else shipped_model_dir()
    if args.classifier_out:
        classifier_out = Path(args.classifier_out)
    elif args.out:  # a trial run must not replace the shipped classifier
        classifier_out = out_dir.with_name(out_dir.name + "-instrument_classifier.safetensors")
    else:
        classifier_out = shipped_classifier_path()
    options = RunOptions(
        work_dir=Path(args.work),
        out_dir=out_dir,
        classifier_out=classifier_out,
        fit_classifier=not args.keep_classifier,
        eval_prompts=args.eval_prompts,
        scale=scale,
        dataset=Path(args.dataset) if args.dataset else None,
        data_only=args.data_only,
        workers=args.workers,
        device=args.device,
        cpu_threads=args.threads,
        seed=args.seed,
        init_from=Path(args.init_from) if args.init_from else None,
        tempo_token=args.tempo_token,
    )
    try:
        run(options)
    except RiffgenError as exc:
        print(f"train_mini: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
