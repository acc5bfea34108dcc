#!/usr/bin/env python
"""Rebuild riffgen's spectrogram vocoder from scratch: render audio, train, (install).

1. Renders ``--clips`` clips of music with riffgen's own FluidSynth composer (General MIDI
   programs and drum kits, 1-3 part arrangements, 60-180 BPM) into ``OUT/audio/synth``, plus
   coloured noise (white to brown, steady and in bursts) and silence into ``OUT/audio/noise``.
   Mixtures, level changes, gaps and fades are made on the fly by the trainer.
2. Trains with ``riffgen.training.decoder.train_decoder`` (what ``riffgen train-decoder``
   runs) into ``OUT/model``.
3. ``--install`` copies the weights and their JSON into ``src/riffgen/data/vocoder/``.

``make train-decoder`` runs it twice: from scratch (``--clips 800 --steps 4000``), then
``--init-from`` that result on new clips (``--seed 1``) at ``--lr 4e-4`` for 40 minutes with
``--install``. ``--quick`` is a 2-minute check of the recipe.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from riffgen.audio import save_audio
from riffgen.errors import RiffgenError

SAMPLE_RATE = 44100
PACKAGE_DATA = Path(__file__).resolve().parents[1] / "src" / "riffgen" / "data" / "vocoder"


def _render(job: tuple[str, int, int]) -> str:
    from riffgen.synth import DEFAULT_HOLDOUT, clip_seed, generate_clip

    folder, seed, index = job
    path = Path(folder) / f"{index:05d}.flac"
    if not path.exists():  # re-running resumes
        clip = generate_clip(clip_seed(seed, "train", index), holdout=DEFAULT_HOLDOUT)
        assert clip.audio is not None
        save_audio(path, clip.audio, clip.sample_rate)
    return path.name


def render_music(folder: Path, *, clips: int, seed: int, workers: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(str(folder), seed, i) for i in range(clips)]
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for done, _ in enumerate(pool.map(_render, jobs, chunksize=4), 1):
            if done % 50 == 0 or done == clips:
                print(
                    f"rendered {done}/{clips} clips ({time.monotonic() - started:.0f} s)",
                    flush=True,
                )


def write_noise(folder: Path, *, count: int, seed: int, seconds: float = 5.11) -> None:
    """Coloured noise (f^-alpha, alpha 0-2), steady or gated into bursts, and one silent file."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    for i in range(count):
        alpha = float(rng.uniform(0, 2))
        spec = np.fft.rfft(rng.standard_normal(n))
        noise = np.fft.irfft(spec / np.maximum(np.arange(spec.size), 1.0) ** (alpha / 2), n=n)
        if i % 2:  # bursts: noise gated by decaying envelopes at random onsets
            env = np.zeros(n)
            for onset in rng.integers(0, n, size=int(rng.integers(3, 12))):
                length = n - onset
                env[onset:] += np.exp(-np.arange(length) / (rng.uniform(0.01, 0.3) * SAMPLE_RATE))
            noise = noise * env
        noise = 0.1 * noise / (np.sqrt(np.mean(noise**2)) + 1e-12)
        save_audio(folder / f"noise_{i:03d}.flac", noise.astype(np.float32), SAMPLE_RATE)
    save_audio(folder / "silence.flac", np.zeros(n, np.float32), SAMPLE_RATE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/decoder"))
    parser.add_argument("--clips", type=int, default=400, help="music clips to render")
    parser.add_argument("--noise-files", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="render processes")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--time-limit", type=float, default=60.0, help="training minutes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lr", type=float, default=8e-4, help="peak learning rate")
    parser.add_argument("--init-from", default=None, help="vocoder weights to fine-tune")
    parser.add_argument("--quick", action="store_true", help="tiny data and model, 2 minutes")
    parser.add_argument("--install", action="store_true", help="copy into the package data")
    args = parser.parse_args(argv)

    from riffgen.audio.vocoder import VocoderConfig
    from riffgen.training.decoder import DecoderTrainConfig, train_decoder

    model = VocoderConfig()
    if args.quick:
        args.clips, args.noise_files, args.steps, args.time_limit = 8, 2, 40, 2.0
        model = VocoderConfig(dim=64, intermediate=192, layers=2)
    audio = args.out / "audio"
    try:
        render_music(audio / "synth", clips=args.clips, seed=args.seed, workers=args.workers)
        write_noise(audio / "noise", count=args.noise_files, seed=args.seed)
        config = DecoderTrainConfig(
            steps=args.steps,
            time_limit_s=args.time_limit * 60,
            threads=args.threads,
            seed=args.seed,
            lr=args.lr,
            init_from=args.init_from,
            model=model,
        )
        result = train_decoder(audio, args.out / "model", config)
    except RiffgenError as exc:
        print(f"train_decoder: error: {exc}", file=sys.stderr)
        return 2
    if args.install:
        PACKAGE_DATA.mkdir(parents=True, exist_ok=True)
        for name in ("vocoder.safetensors", "vocoder.json"):
            shutil.copy2(result.out_dir / name, PACKAGE_DATA / name)
        print(f"installed into {PACKAGE_DATA}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
