"""Spectrogram image -> audio: riffgen's default decoder against the original Riffusion algorithm.

    .venv/bin/python bench/bench_phase.py [--device cpu|cuda] [--quick] [--repeats N]

On the five published Riffusion seed images (og_beat, agile, marim, motorway, vibes), found in
``../shared/reference/riffusion_seed_images`` beside the repository or in
``$RIFFGEN_REFERENCE_DIR``, it decodes each image with

* the original: least-squares inverse mel (clamped >= 0), 32 Griffin-Lim iterations,
  momentum 0.99, random phase (``image_to_audio(..., algorithm="original")``), and
* riffgen's default decoder (``image_to_audio(...)``, riffgen.audio.phase),

both through the same public function (same image reading and peak normalisation; on a GPU
the original's steps are called one by one, see ``decode_original_on``), and prints
the median wall time of ``--repeats`` runs after one warm-up run per algorithm, and the
mel-domain spectral convergence of each output against the image's mel spectrogram
(‖a·mel(output) − target‖ / ‖target‖ with the best scale a; lower is better). The last line
says whether riffgen is at least 3x faster with equal-or-lower convergence on every image.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from riffgen import image_to_audio
from riffgen.audio.image import mel_from_image, params_from_image
from riffgen.audio.spectrogram import spectral_convergence

IMAGES = ("og_beat", "agile", "marim", "motorway", "vibes")
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO_ROOT.parent / "shared" / "reference" / "riffusion_seed_images"
ALGORITHMS = ("original", "riffgen")
TARGET_SPEEDUP = 3.0
ROW = "{:<10} {:>8} {:>10} {:>8} {:>9} {:>8} {:>10}"


def reference_dir() -> Path:
    return Path(os.environ.get("RIFFGEN_REFERENCE_DIR") or DEFAULT_DIR)


def decode(image: Image.Image, algorithm: str, *, device: str, seed: int) -> np.ndarray:
    """Image -> audio; returns numpy (copied to the CPU), so a GPU run is complete on return."""
    audio, _ = image_to_audio(image, seed=seed, device=device, algorithm=algorithm)
    return audio


def timed(image: Image.Image, algorithm: str, *, device: str, seed: int, repeats: int):
    """-> (median wall seconds, median CPU seconds of this process, audio of the last run).

    CPU seconds are the steadier figure on a machine that other jobs share.
    """
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        audio = decode(image, algorithm, device=device, seed=seed)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), audio


def convergence(image: Image.Image, audio: np.ndarray) -> float:
    params = params_from_image(image)
    target = torch.from_numpy(mel_from_image(image, params))
    return spectral_convergence(torch.from_numpy(audio), target, params)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--quick", action="store_true", help="one timed run per image")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="random initial phase seed")
    parser.add_argument("--images", default=",".join(IMAGES), help="comma-separated names")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: cores)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    folder = reference_dir()
    names = [n.strip() for n in args.images.split(",") if n.strip()]
    missing = [n for n in names if not (folder / f"{n}.png").is_file()]
    if missing:
        where = f"{folder} (set RIFFGEN_REFERENCE_DIR)"
        print(f"SKIPPED: reference images {', '.join(missing)} not found in {where}")
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"error: --device {args.device} but CUDA is not available", file=sys.stderr)
        return 2
    # The machine's default: one thread per core this process may use.
    torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
    images = {n: Image.open(folder / f"{n}.png").convert("RGB") for n in names}
    for algorithm in ALGORITHMS:  # warm-up: caches (filterbanks, windows), allocator, kernels
        decode(images[names[0]], algorithm, device=args.device, seed=args.seed)

    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(
        f"device {args.device} ({device_name}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, median of {repeats} run(s) after 1 warm-up"
    )
    header = ROW.format(
        "image", "orig s", "riffgen s", "speedup", "cpu-speed", "orig SC", "riffgen SC"
    )
    print(header)
    print("-" * len(header))
    ok, speedups = True, []
    for name, image in images.items():
        kw = {"device": args.device, "seed": args.seed, "repeats": repeats}
        t_orig, c_orig, a_orig = timed(image, "original", **kw)
        t_new, c_new, a_new = timed(image, "riffgen", **kw)
        sc_orig, sc_new = convergence(image, a_orig), convergence(image, a_new)
        speedups.append(t_orig / t_new)
        ok &= speedups[-1] >= TARGET_SPEEDUP and sc_new <= sc_orig
        cells = (f"{t_orig:.3f}", f"{t_new:.3f}", f"{speedups[-1]:.1f}x", f"{c_orig / c_new:.1f}x")
        print(ROW.format(name, *cells, f"{sc_orig:.3f}", f"{sc_new:.3f}"))
    print(
        f"riffgen >= {TARGET_SPEEDUP:g}x faster with equal-or-lower SC on every image: "
        f"{'YES' if ok else 'NO'} (speedup {min(speedups):.1f}x to {max(speedups):.1f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
