"""Regenerate the demo clip shipped in ``src/riffgen/data/demo/`` (used by ``python -m riffgen.demo``).

Two bars of piano melody over bass and drums at 94 BPM in C major, composed by
:mod:`riffgen.synth` from a fixed seed and rendered with FluidSynth and the General MIDI
soundfont. The clip lasts exactly one Riffusion image (512 columns, 5.11 s), so its
spectrogram has the size the diffusion model works with. Saved as 16-bit mono FLAC.

    .venv/bin/python scripts/make_demo_clip.py          # writes src/riffgen/data/demo/demo_clip.flac
    .venv/bin/python scripts/make_demo_clip.py -o x.flac

Deterministic: the same FluidSynth and soundfont give the same file, byte for byte.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from riffgen.audio import save_audio
from riffgen.synth import CLIP_SECONDS, ClipSpec, PartSpec, generate_clip

SEED = 2024
SAMPLE_RATE = 44100
OUTPUT = (
    Path(__file__).resolve().parents[1] / "src" / "riffgen" / "data" / "demo" / "demo_clip.flac"
)
SPEC = ClipSpec(
    parts=(
        PartSpec("piano", 0, "melody", "lead"),
        PartSpec("bass", 33, "riff", "accompaniment"),
        PartSpec("drums", 0, "beat", "accompaniment"),
    ),
    bpm=94,  # 8 beats = 2 bars in 5.11 s
    key="C",
    mode="major",
    groove="rock",
)


def make_clip() -> tuple[np.ndarray, str]:
    """Render the demo clip -> (mono float32 samples ``[n]`` at 44.1 kHz, its caption)."""
    clip = generate_clip(SEED, spec=SPEC, template=0, sample_rate=SAMPLE_RATE, seconds=CLIP_SECONDS)
    assert clip.audio is not None
    return clip.audio, clip.caption


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT, help="default: %(default)s")
    args = parser.parse_args(argv)
    audio, text = make_clip()
    save_audio(args.output, audio, SAMPLE_RATE)
    size_kb = args.output.stat().st_size / 1024
    print(f"wrote {args.output} ({audio.size / SAMPLE_RATE:.2f} s, {size_kb:.0f} KB): {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
