"""Regenerate riffgen's own seed images into src/riffgen/data/seed_images/.

Each pattern of ``riffgen.audio.drums.CATALOG`` is synthesised (deterministically, numpy
only), converted with riffgen's own ``audio_to_image`` into a 512-column spectrogram (5.11 s)
and saved as a grayscale PNG with the spectrogram EXIF tags and ``riffgen:bpm`` /
``riffgen:loop_beats`` text chunks; ``index.json`` lists them all.

    .venv/bin/python scripts/make_seed_images.py [--out DIR] [--width 512]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import PngImagePlugin

from riffgen.audio import SpectrogramParams, audio_to_image
from riffgen.audio.drums import CATALOG, Pattern, render
from riffgen.endless.seeds import BPM_TEXT_KEY, DATA_DIR, LOOP_BEATS_TEXT_KEY
from riffgen.files import atomic_path


def make_image(pattern: Pattern, *, width: int, params: SpectrogramParams):
    audio = render(pattern, num_samples=params.num_samples(width), sample_rate=params.sample_rate)
    image = audio_to_image(audio[None], params.sample_rate, params)
    assert image.width == width, (image.width, width)
    return image


def save_png(image, path: Path, pattern: Pattern) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text(BPM_TEXT_KEY, f"{pattern.bpm:g}")
    info.add_text(LOOP_BEATS_TEXT_KEY, str(pattern.loop_beats))
    info.add_text("riffgen:name", pattern.name)
    info.add_text("Description", pattern.description)
    # Mono spectrograms are R = G = B: grayscale keeps every bit at a third of the size.
    with atomic_path(path) as tmp:
        image.convert("L").save(
            tmp, format="PNG", pnginfo=info, exif=image.info["exif"], optimize=True
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument(
        "--width", type=int, default=512, help="image width in columns (10 ms each)"
    )
    args = parser.parse_args()
    params = SpectrogramParams()
    entries = []
    for pattern in CATALOG:
        image = make_image(pattern, width=args.width, params=params)
        file = f"{pattern.name}.png"
        save_png(image, args.out / file, pattern)
        entries.append(
            {
                "name": pattern.name,
                "file": file,
                "bpm": pattern.bpm,
                "loop_beats": pattern.loop_beats,
                "feel": pattern.feel,
                "description": pattern.description,
                "aliases": list(pattern.aliases),
                "width": image.width,
                "duration_s": round(params.num_samples(image.width) / params.sample_rate, 4),
            }
        )
        print(f"{file}: {pattern.bpm:g} BPM, {pattern.feel}")
    with atomic_path(args.out / "index.json") as tmp:
        tmp.write_text(json.dumps({"version": 1, "images": entries}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
