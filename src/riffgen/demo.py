"""``python -m riffgen.demo`` (``make demo``): see riffgen work on a fresh machine, no model needed.

Takes the short clip shipped with riffgen (two bars of piano, bass and drums), turns it into a
Riffusion spectrogram image and back into audio, and writes into ``--out`` (default
``demo-output/``):

* ``spectrogram.png``: the clip as the diffusion model sees it (512 x 512, low notes at the bottom)
* ``roundtrip.wav``: the audio decoded from that image (riffgen's phase recovery)
* ``original.wav``: the clip itself, to compare by ear

It prints the measured figures (duration, peak and RMS level, time taken, spectral
convergence). With ``--model`` it also generates a clip from ``--prompt`` with the diffusion
pipeline (``generated.wav`` and ``generated.png``).

    python -m riffgen.demo
    python -m riffgen.demo --out /tmp/demo --input my_song.flac
    python -m riffgen.demo --model riffusion/riffusion-model-v1 --prompt "jazzy piano trio"
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from riffgen.audio import audio_to_image, image_to_audio, load_audio, save_audio
from riffgen.audio.image import mel_from_image, params_from_image, save_image
from riffgen.audio.spectrogram import spectral_convergence
from riffgen.errors import RiffgenError
from riffgen.files import atomic_outputs

DEFAULT_OUT = Path("demo-output")
DEFAULT_PROMPT = (
    "a moderately paced happy grand piano tune, C major accompanied by bass and drum kit"
)


def demo_clip_path() -> Path:
    """The shipped demo clip (made by scripts/make_demo_clip.py)."""
    return Path(str(resources.files("riffgen") / "data" / "demo" / "demo_clip.flac"))


def dbfs(value: float) -> float:
    """Amplitude (1.0 = full scale) -> dBFS; silence is -inf."""
    return 20 * np.log10(value) if value > 0 else float("-inf")


@dataclass(frozen=True)
class Level:
    """Duration (s) and peak/RMS level (dBFS) of float audio ``[channels, n]``."""

    duration_s: float
    peak_dbfs: float
    rms_dbfs: float

    @classmethod
    def of(cls, samples: np.ndarray, sample_rate: int) -> Level:
        rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
        return cls(samples.shape[-1] / sample_rate, dbfs(float(np.abs(samples).max())), dbfs(rms))

    def __str__(self) -> str:
        return (
            f"{self.duration_s:.2f} s, peak {self.peak_dbfs:.1f} dBFS, RMS {self.rms_dbfs:.1f} dBFS"
        )


def round_trip(clip: Path, out: Path, *, device: str | None, seed: int) -> dict[str, object]:
    """clip -> out/spectrogram.png -> out/roundtrip.wav (+ out/original.wav); returns figures."""
    samples, sr = load_audio(clip)
    start = time.perf_counter()
    image = audio_to_image(samples, sr)
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    audio, out_sr = image_to_audio(image, seed=seed, device=device)
    decode_s = time.perf_counter() - start
    # How well the decoded audio matches the image (0 = exactly; the original Riffusion ~0.15).
    params = params_from_image(image)
    target = torch.from_numpy(mel_from_image(image, params))
    sc = spectral_convergence(torch.from_numpy(audio), target, params)
    files = {
        "original": out / "original.wav",
        "spectrogram": out / "spectrogram.png",
        "roundtrip": out / "roundtrip.wav",
    }
    with atomic_outputs(files.values()) as (original, spectrogram, roundtrip):
        save_audio(original, samples, sr)
        save_image(spectrogram, image)
        save_audio(roundtrip, audio, out_sr)
    return {
        "files": files,
        "image_size": image.size,
        "original": Level.of(samples, sr),
        "roundtrip": Level.of(audio, out_sr),
        "encode_s": encode_s,
        "decode_s": decode_s,
        "spectral_convergence": sc,
    }


def generate(args: argparse.Namespace, out: Path) -> dict[str, object]:
    """Text -> out/generated.wav + out/generated.png with the diffusion pipeline."""
    from riffgen.diffusion import load_pipeline
    from riffgen.outputs import quiet_libraries

    quiet_libraries()
    start = time.perf_counter()
    pipe = load_pipeline(args.model, device=args.device, dtype=args.dtype)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    result = pipe.text_to_audio(args.prompt, seed=args.seed, num_inference_steps=args.steps)
    generate_s = time.perf_counter() - start
    files = {"generated": out / "generated.wav", "generated_image": out / "generated.png"}
    with atomic_outputs(files.values()) as (audio, image):
        save_audio(audio, result.audio, result.sample_rate)
        save_image(image, result.image)
    return {
        "files": files,
        "level": Level.of(result.audio, result.sample_rate),
        "load_s": load_s,
        "generate_s": generate_s,
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m riffgen.demo",
        description="Round-trip the shipped clip through a spectrogram image (and, with "
        "--model, generate a clip from a prompt).",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR", help="(%(default)s)")
    p.add_argument("--input", type=Path, default=None, metavar="AUDIO", help="another clip")
    p.add_argument("--device", default=None, metavar="D", help="cpu, cuda (default: auto)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    p.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="also generate")
    p.add_argument("--prompt", default=DEFAULT_PROMPT, metavar="TEXT", help="for --model")
    p.add_argument("--steps", type=int, default=25, metavar="N", help="for --model (25)")
    p.add_argument("--dtype", default=None, choices=("auto", "fp32", "fp16", "bf16"))
    return p


def print_files(files: dict[str, Path]) -> None:
    print("wrote:")
    for path in files.values():
        print(f"  {path}")


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    clip = args.input or demo_clip_path()
    print(f"riffgen demo: {clip.name} -> spectrogram image -> audio")
    rt = round_trip(clip, out, device=args.device, seed=args.seed)
    width, height = rt["image_size"]
    print(f"  input      {rt['original']}")
    print(f"  image      {width} x {height} px, encoded in {rt['encode_s']:.2f} s")
    print(f"  round trip {rt['roundtrip']}, decoded in {rt['decode_s']:.2f} s")
    print(f"  spectral convergence {rt['spectral_convergence']:.3f} (lower is better)")
    print_files(rt["files"])
    if args.model:
        print(f"generating from {args.prompt!r} with {args.model} ({args.steps} steps) ...")
        gen = generate(args, out)
        print(
            f"  generated  {gen['level']}, model loaded in {gen['load_s']:.1f} s, "
            f"generated in {gen['generate_s']:.1f} s"
        )
        print_files(gen["files"])
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("riffgen demo: interrupted", file=sys.stderr)
        return 130
    except (RiffgenError, ValueError, OSError) as exc:
        print(f"riffgen demo: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
