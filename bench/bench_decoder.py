"""Spectrogram image -> audio: the neural vocoder against Griffin-Lim, on held-out audio.

    .venv/bin/python bench/bench_decoder.py [--clips 8] [--weights W] [--png DIR] [--quick]

Held-out audio: clips riffgen's FluidSynth composer renders from the synthetic dataset's *test*
seeds (subsets ``seen`` and ``heldout_combo``: seeds, and for the latter instrument/style
pairs, that ``make train-decoder`` never renders), plus the shipped demo clip. Each clip is
encoded as a 512-mel Riffusion image and a 128-mel mini image, then decoded by

* ``original``: least-squares inverse mel + Griffin-Lim, 32 iterations (Riffusion's decoder),
* ``griffin-lim``: riffgen's fast phase recovery (the current default),
* ``vocoder``: the neural vocoder (``image_to_audio(..., decoder="vocoder")``),
* ``gl-random-64+4``: riffgen's phase recovery as it was before issue #13
  (``phase.RANDOM_COARSE_FINE``: random start, 64 coarse + 4 fine iterations; now solved at
  24 kHz like the default).

Figures per decoder (mean over clips):

* ``dist dB``: multi-resolution log-magnitude STFT distance to the true audio: Hann windows
  256, 512, 1024, 2048 and 4096 samples (hop 1/4), bins under 10 kHz, each signal scaled to
  the reference's RMS, mean |dB difference| with magnitudes floored 80 dB below the
  reference's loudest bin at that resolution (lower is better);
* ``mel SC``: mel spectral convergence to the image (as bench_phase.py; lower is better);
* ``wall s`` / ``cpu s``: median time of one 5.11 s clip through ``image_to_audio`` with 2
  threads (``--threads``), after a warm-up.

The last lines check the goal of issue #13 for each decoder: distance <= 0.85x the
original's and at least 5x faster (wall time), on the 512-mel format. ``--png DIR`` writes log-spectrograms
(window 512) of the first second of the clip with the strongest drum onsets for each decoder.
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

from riffgen.audio import audio_to_image, image_to_audio, load_audio
from riffgen.audio.image import mel_from_image, params_from_image
from riffgen.audio.params import SpectrogramParams
from riffgen.audio.spectrogram import spectral_convergence

DECODERS = ("original", "griffin-lim", "vocoder", "gl-random-64+4")
# Rows decoded with a riffgen.audio.phase config instead of an image_to_audio decoder name.
PHASE_ROWS = {"gl-random-64+4": "RANDOM_COARSE_FINE"}
WINDOWS = (256, 512, 1024, 2048, 4096)
FLOOR_DB = 80.0
MAX_HZ = 10000.0
SR = 44100
GOAL_DISTANCE, GOAL_SPEEDUP = 0.85, 5.0
DEMO_CLIP = Path(__file__).resolve().parents[1] / "src/riffgen/data/demo/demo_clip.flac"
FORMATS = {"riffusion-512": SpectrogramParams(), "mini-128": SpectrogramParams(num_frequencies=128)}
ROW = "{:<14} {:<12} {:>8} {:>7} {:>8} {:>7} {:>7} {:>8}"


def held_out_clips(n: int, *, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """``n`` rendered test clips (alternating subsets) + the demo clip, mono at 44.1 kHz."""
    clips: list[tuple[str, np.ndarray]] = []
    try:
        from riffgen.synth import clip_seed, fluidsynth_available, generate_clip

        if fluidsynth_available():
            for i in range(n):
                subset = ("seen", "heldout_combo")[i % 2]
                clip = generate_clip(clip_seed(seed, subset, i // 2), subset=subset)
                families = "+".join(p.family for p in clip.spec.parts)
                clips.append((f"{subset[:4]}{i // 2}:{families}", clip.audio))
        else:
            print("note: FluidSynth or a GM soundfont is missing: demo clip only")
    except ImportError:
        pass
    if DEMO_CLIP.is_file():
        demo, _ = load_audio(DEMO_CLIP, sample_rate=SR, mono=True, duration=511 * 441 / SR)
        clips.append(("demo", demo[0]))
    return clips


def _stft_db(x: torch.Tensor, window: int) -> torch.Tensor:
    spec = torch.stft(
        x, window, window // 4, window=torch.hann_window(window, dtype=x.dtype), return_complex=True
    )
    return spec[: int(MAX_HZ * window / SR) + 1].abs()


def stft_distance(audio: np.ndarray, reference: np.ndarray) -> float:
    """Multi-resolution log-magnitude distance in dB (see the module doc)."""
    n = min(audio.size, reference.size)
    ref = torch.from_numpy(reference[:n]).double()
    out = torch.from_numpy(audio[:n]).double()
    out = out * ref.square().mean().sqrt() / out.square().mean().sqrt().clamp_min(1e-12)
    dists = []
    for window in WINDOWS:
        r, o = _stft_db(ref, window), _stft_db(out, window)
        floor = r.max() * 10 ** (-FLOOR_DB / 20)
        o_db, r_db = (20 * torch.log10(torch.maximum(m, floor)) for m in (o, r))
        dists.append(float((o_db - r_db).abs().mean()))
    return float(np.mean(dists))


def decode(image: Image.Image, decoder: str, *, seed: int = 0) -> tuple[np.ndarray, float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    if decoder in PHASE_ROWS:  # what image_to_audio's griffin-lim path does, other config
        from riffgen.audio import phase
        from riffgen.audio.mix import normalize_peak

        params = params_from_image(image)
        mel = torch.from_numpy(mel_from_image(image, params))
        with torch.inference_mode():
            wav = phase.reconstruct(
                mel,
                params,
                generator=torch.Generator().manual_seed(seed),
                config=getattr(phase, PHASE_ROWS[decoder]),
                linked_channels=params.stereo,
            )
        audio = normalize_peak(wav.float().numpy())
        return audio[0], time.perf_counter() - start, time.process_time() - cpu
    audio, _ = image_to_audio(image, seed=seed, device="cpu", decoder=decoder)
    return audio[0], time.perf_counter() - start, time.process_time() - cpu


def onset_strength(audio: np.ndarray) -> float:
    """Largest jump in 10 ms frame energy (dB): the clip with the hardest drum hit wins."""
    frames = audio[: audio.size // 441 * 441].reshape(-1, 441)
    energy = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    return float(np.max(np.diff(energy)))


def write_png(folder: Path, name: str, audio: np.ndarray, reference: np.ndarray, at: int) -> None:
    """Log-spectrogram (window 512, 0-10 kHz, 60 dB range) of one second from sample ``at``."""
    seg = torch.from_numpy(audio[at : at + SR].astype(np.float64))
    ref = torch.from_numpy(reference[at : at + SR].astype(np.float64))
    seg = seg * ref.square().mean().sqrt() / seg.square().mean().sqrt().clamp_min(1e-12)
    mag = _stft_db(seg, 512)
    top = float(_stft_db(ref, 512).max())
    db = 20 * torch.log10(mag.clamp_min(1e-9) / top)
    pixels = ((db.clamp(-60, 0) + 60) / 60 * 255).numpy().astype(np.uint8)[::-1]
    image = Image.fromarray(np.ascontiguousarray(pixels)).resize((pixels.shape[1] * 3, 232 * 2))
    image.save(folder / f"{name}.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8, help="rendered held-out clips")
    parser.add_argument("--weights", default=None, help="vocoder weights (default: shipped)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the first clip")
    parser.add_argument("--png", type=Path, default=None, help="write drum-hit spectrograms")
    parser.add_argument("--quick", action="store_true", help="2 clips, 1 timed run")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated")
    args = parser.parse_args(argv)
    if args.quick:
        args.clips, args.repeats = 2, 1
    if args.weights:
        os.environ["RIFFGEN_VOCODER"] = str(Path(args.weights).resolve())
    torch.set_num_threads(args.threads)
    clips = held_out_clips(args.clips)
    if not clips:
        print("SKIPPED: no held-out audio (no FluidSynth and no demo clip)")
        return 0
    from riffgen.audio.vocoder import load_vocoder

    weights = os.environ.get("RIFFGEN_VOCODER") or "shipped"
    try:
        vocoder = load_vocoder()
        count = sum(p.numel() for p in vocoder.parameters())
        print(f"vocoder {weights}: {count / 1e6:.2f} M parameters")
    except Exception as exc:  # the run still measures the Griffin-Lim decoders
        print(f"vocoder {weights}: unusable ({exc}); its rows show the Griffin-Lim fallback")
    print(
        f"{len(clips)} held-out clips of 5.11 s, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, times: median of {args.repeats} after a warm-up"
    )
    header = ROW.format(
        "format", "decoder", "dist dB", "x orig", "mel SC", "wall s", "cpu s", "speedup"
    )
    print(header)
    print("-" * len(header))
    results: dict[tuple[str, str], dict[str, float]] = {}
    # The clip with drums whose onsets are hardest (any clip when none has drums).
    with_drums = [i for i, (name, _) in enumerate(clips) if "drums" in name] or range(len(clips))
    drum = max(with_drums, key=lambda i: onset_strength(clips[i][1]))
    for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
        params = FORMATS[fmt]
        images = [audio_to_image(audio, SR, params) for _, audio in clips]
        for decoder in DECODERS:
            decode(images[0], decoder)  # warm-up: caches, weights, allocator
            times = [decode(images[0], decoder)[1:] for _ in range(args.repeats)]
            dists, scs = [], []
            for i, ((_, audio), image) in enumerate(zip(clips, images, strict=True)):
                out, _, _ = decode(image, decoder)
                dists.append(stft_distance(out, audio))
                target = torch.from_numpy(mel_from_image(image, params_from_image(image)))
                scs.append(spectral_convergence(torch.from_numpy(out)[None], target, params))
                if args.png and i == drum:
                    args.png.mkdir(parents=True, exist_ok=True)
                    at = max(0, int(np.argmax(np.abs(audio))) - SR // 4)
                    write_png(args.png, f"{fmt}_{decoder}", out, audio, at)
                    if decoder == DECODERS[0]:
                        write_png(args.png, f"{fmt}_true", audio, audio, at)
            results[fmt, decoder] = {
                "dist": float(np.mean(dists)),
                "sc": float(np.mean(scs)),
                "wall": statistics.median(t[0] for t in times),
                "cpu": statistics.median(t[1] for t in times),
            }
            r, o = results[fmt, decoder], results[fmt, "original"]
            print(
                ROW.format(
                    fmt,
                    decoder,
                    f"{r['dist']:.2f}",
                    f"{r['dist'] / o['dist']:.3f}",
                    f"{r['sc']:.3f}",
                    f"{r['wall']:.3f}",
                    f"{r['cpu']:.3f}",
                    f"{o['wall'] / r['wall']:.1f}x",
                ),
                flush=True,
            )
    for decoder in DECODERS[1:]:
        if ("riffusion-512", decoder) not in results:
            continue
        v, o = results["riffusion-512", decoder], results["riffusion-512", "original"]
        ratio, speed = v["dist"] / o["dist"], o["wall"] / v["wall"]
        ok = ratio <= GOAL_DISTANCE and speed >= GOAL_SPEEDUP
        print(
            f"{decoder} <= {GOAL_DISTANCE}x the original's distance and >= {GOAL_SPEEDUP:g}x "
            f"faster (512 mel): {'YES' if ok else 'NO'} ({ratio:.3f}x, {speed:.1f}x)"
        )
    if args.png:
        print(f"spectrograms of clip {clips[drum][0]!r} written to {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
