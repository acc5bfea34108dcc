"""Training throughput (optimizer steps/s) of ``riffgen train`` on small models.

    .venv/bin/python bench/bench_training.py                 # debug model, CPU
    .venv/bin/python bench/bench_training.py --threads 1 --steps 30
    .venv/bin/python bench/bench_training.py --device cuda    # on a GPU machine

Models: the debug model of the test suite (64-mel images, UNet channels 32/64) and a
"small" model (128 mels, UNet 64/128/128, 128x128 images), the size a from-scratch run on a
laptop would use. riffusion-model-v1 itself (SD1.5, 860M-parameter UNet, 512x512) needs a GPU:
on CPU one step takes tens of seconds; run this script on a GPU machine with ``--device cuda``
for GPU figures. The numbers exclude model loading, validation and checkpointing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def make_audio(folder: Path, *, seconds: float = 6.0, sr: int = 44100) -> None:
    """Three synthetic 'instruments': tone, chord, noise bursts."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    sounds = {
        "tone/sine_440.wav": 0.3 * np.sin(2 * np.pi * 440 * t),
        "chord/major.wav": sum(0.1 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)),
        "noise/bursts.wav": 0.2 * rng.standard_normal(t.size) * (np.sin(2 * np.pi * 2 * t) > 0),
    }
    for name, samples in sounds.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(folder / name, samples.astype(np.float32), sr)


def build(work: Path, size: str) -> tuple[Path, Path]:
    """(model dir, dataset dir) for ``size`` "debug" or "small"."""
    from riffgen.models.configs import DEBUG_SPECTROGRAM, DebugModelConfig, debug_spec
    from riffgen.models.registry import build_model
    from riffgen.training.prepare import PrepareConfig, prepare_dataset

    if size == "debug":
        params, model_config, clip_s = DEBUG_SPECTROGRAM, DebugModelConfig(), 0.64
    else:
        params = DEBUG_SPECTROGRAM.replace(num_frequencies=128)
        model_config = DebugModelConfig(
            unet_channels=(64, 128, 128), text_hidden=64, cross_attention_dim=64
        )
        clip_s = 1.28
    model = build_model(debug_spec(model_config, spectrogram=params), work / f"model_{size}")
    audio = work / "audio"
    if not audio.exists():
        make_audio(audio)
    dataset = work / f"data_{size}"
    prepare_dataset(
        audio, dataset, PrepareConfig(clip_seconds=clip_s, params=params, progress=False)
    )
    return model, dataset


def measure(model: Path, dataset: Path, out: Path, *, steps: int, device: str, **settings) -> float:
    from riffgen.training.config import TrainConfig
    from riffgen.training.trainer import train

    config = TrainConfig(
        dataset=str(dataset),
        base=str(model),
        output_dir=str(out),
        max_steps=steps + 3,
        checkpoint_every=0,
        log_every=0,
        progress=False,
        device=device,
        **settings,
    )
    result = train(config)
    # Skip the first 3 steps (allocator and kernel warm-up).
    timed = result.step_seconds[3:]
    return len(timed) / sum(timed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default="debug,small")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads,"
        f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    runs = [
        ("full", {"lora_rank": 0, "batch_size": 1}),
        ("full", {"lora_rank": 0, "batch_size": 4}),
        ("lora r4", {"lora_rank": 4, "batch_size": 1}),
        ("lora r4", {"lora_rank": 4, "batch_size": 4}),
        ("full bf16", {"lora_rank": 0, "batch_size": 4, "mixed_precision": "bf16"}),
    ]
    with tempfile.TemporaryDirectory(prefix="riffgen-bench-train-") as tmp:
        work = Path(tmp)
        for size in args.sizes.split(","):
            model, dataset = build(work, size)
            from PIL import Image

            first = next((dataset / "train").glob("*.png"))
            w, h = Image.open(first).size
            for n, (label, settings) in enumerate(runs):
                started = time.perf_counter()
                rate = measure(
                    model,
                    dataset,
                    work / f"out_{size}_{n}",
                    steps=args.steps,
                    device=args.device,
                    **settings,
                )
                wall = time.perf_counter() - started
                batch = settings["batch_size"]
                print(
                    f"{size:5s} {w}x{h}  {label:9s} batch {batch}:  {rate:6.2f} steps/s"
                    f"  {rate * batch:7.2f} images/s   ({wall:.1f} s incl. setup)",
                    flush=True,
                )
    if args.device == "cpu":
        print("GPU figures need a GPU: run with --device cuda on a GPU machine.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
