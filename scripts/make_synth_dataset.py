#!/usr/bin/env python
"""Generate a synthetic captioned spectrogram dataset (imagefolder layout) with FluidSynth.

Example:
    .venv/bin/python scripts/make_synth_dataset.py --n 2000 --out data/synth --seed 0 --workers 2
"""

from __future__ import annotations

import argparse
import sys

from riffgen.errors import RiffgenError
from riffgen.synth import DEFAULT_HOLDOUT, NO_HOLDOUT, write_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True, help="number of training clips")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    parser.add_argument(
        "--n-test",
        type=int,
        default=None,
        help="test clips, split evenly over seen / "
        "held-out-template / held-out-combination subsets (default n/10)",
    )
    parser.add_argument("--workers", type=int, default=1, help="parallel render processes")
    parser.add_argument("--audio", action="store_true", help="also write each clip as FLAC")
    parser.add_argument("--midi", action="store_true", help="also write each clip's MIDI file")
    parser.add_argument(
        "--no-holdout", action="store_true", help="hold no templates or combinations out"
    )
    args = parser.parse_args(argv)
    try:
        info = write_dataset(
            args.out,
            n=args.n,
            seed=args.seed,
            n_test=args.n_test,
            holdout=NO_HOLDOUT if args.no_holdout else DEFAULT_HOLDOUT,
            workers=args.workers,
            save_audio_files=args.audio,
            save_midi=args.midi,
            progress=True,
        )
    except RiffgenError as exc:
        print(f"make_synth_dataset: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {info['train']} train + {info['test']} test clips to {args.out} in "
        f"{info['seconds']} s ({info['clips_per_second']} clips/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
