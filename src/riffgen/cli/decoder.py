"""``riffgen train-decoder``: train the spectrogram-image vocoder on a folder of audio."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train-decoder",
        help="train the neural vocoder (image -> audio) on a folder of audio",
        description=(
            "Train riffgen's Vocos-style vocoder on every audio file below AUDIO_DIR "
            "(recursively; any rate, mono or stereo). Random crops are mixed, noised, gapped "
            "and faded on the fly and encoded exactly as spectrogram images are. Writes "
            "OUT/vocoder.safetensors (fp16), OUT/vocoder.json and OUT/checkpoint.pt. Use the "
            "result with image_to_audio(..., decoder='vocoder') and RIFFGEN_VOCODER=OUT/"
            "vocoder.safetensors, or install it into src/riffgen/data/vocoder/."
        ),
    )
    p.add_argument("audio_dir", type=Path, metavar="AUDIO_DIR")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="OUT", help="output folder")
    p.add_argument("--steps", type=int, default=3000, help="optimiser steps (default 3000)")
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="MINUTES",
        help="stop (with a fully decayed learning rate) after this many minutes",
    )
    p.add_argument("--batch", type=int, default=8, help="crops per step (default 8)")
    p.add_argument(
        "--crop-frames", type=int, default=64, help="crop length in image columns (default 64)"
    )
    p.add_argument("--lr", type=float, default=8e-4, help="peak learning rate (default 8e-4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument(
        "--init-from",
        default=None,
        metavar="WEIGHTS",
        help="fine-tune these vocoder weights (e.g. the shipped ones) instead of starting "
        "from scratch; their shape replaces --dim/--layers",
    )
    p.add_argument("--dim", type=int, default=256, help="backbone width (default 256)")
    p.add_argument("--layers", type=int, default=8, help="ConvNeXt blocks (default 8)")
    p.set_defaults(func=_train_decoder)


def _train_decoder(args: argparse.Namespace) -> int:
    from riffgen.audio.vocoder import VocoderConfig
    from riffgen.training.decoder import DecoderTrainConfig, train_decoder

    config = DecoderTrainConfig(
        steps=args.steps,
        batch=args.batch,
        crop_frames=args.crop_frames,
        lr=args.lr,
        seed=args.seed,
        threads=args.threads,
        time_limit_s=None if args.time_limit is None else args.time_limit * 60,
        init_from=args.init_from,
        model=VocoderConfig(dim=args.dim, intermediate=3 * args.dim, layers=args.layers),
    )
    result = train_decoder(args.audio_dir, args.out, config)
    print(f"{result.weights}: {result.steps} steps in {result.seconds / 60:.1f} min")
    return 0
