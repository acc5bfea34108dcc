"""Measure the endless features: jam speed, memory and seams; loop seams; transform speed.

    .venv/bin/python bench/bench_endless.py [--model DIR] [--clips 12] [--width 512] [--steps 10]

Without ``--model`` the debug-size model (random weights) is built in memory, so the
figures measure the machinery (seams, memory, overheads), not musical quality. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
from PIL import Image

from riffgen.endless import JamConfig, JamEngine, get_seed_image, pipeline_clip_maker
from riffgen.endless.loop import as_loop, circular_width
from riffgen.endless.metrics import seam_report, spectral_flux
from riffgen.endless.transform import transform_long, window_starts


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed_of_width(name: str, width: int):
    seed = get_seed_image(name)
    if width == seed.image.width:
        return seed
    image = seed.image.crop((0, 0, width, seed.image.height))
    image.info.update(seed.image.info)
    return type(seed)(**{**seed.__dict__, "image": image})


def bench_jam(pipe, *, clips: int, width: int, steps: int) -> dict:
    seed = seed_of_width("beat_120", width)
    engine = JamEngine(
        pipeline_clip_maker(pipe, num_inference_steps=steps),
        ["lofi hip hop beat", "jazz piano", "techno"],
        seed_image=seed,
        config=JamConfig(seed=1),
    )
    times, rss, pieces, seams = [], [], [], []
    began = time.perf_counter()
    for clip in engine.clips(max_clips=clips):
        times.append(time.perf_counter() - began)
        began = time.perf_counter()
        rss.append(round(rss_mb(), 1))
        if clip.index:
            seams.append(clip.stream_start)
        if len(pieces) < 12:  # keep a bounded excerpt for the seam measurement
            pieces.append(clip.audio)
    audio = np.concatenate([*pieces, engine.finish()], axis=1)
    rep = seam_report(audio, [s for s in seams if s < audio.shape[1]])
    return {
        "clips": clips,
        "width_px": width,
        "steps": steps,
        "clip_s": engine.period / engine.sample_rate,
        "s_per_clip_median": round(float(np.median(times[1:] or times)), 3),
        "realtime_factor": round(
            float(np.median(times[1:] or times)) / (engine.period / engine.sample_rate), 2
        ),
        "rss_mb_first_last": [rss[min(2, len(rss) - 1)], rss[-1]],
        "seam_jump_ratio": round(rep.jump_ratio, 3),
        "seam_flux_ratio": round(rep.flux_ratio, 3),
        "seam": rep.__dict__,
    }


def periodic_beat_image(width: int = 512) -> Image.Image:
    """A spectrogram that truly wraps: two bars at 93.75 BPM last exactly 512 columns (5.12 s)."""
    from riffgen.audio import SpectrogramParams, audio_to_image
    from riffgen.audio.drums import CATALOG, Pattern, render

    params = SpectrogramParams()
    base = next(p for p in CATALOG if p.name == "beat_100")
    pattern = Pattern(**{**base.__dict__, "bpm": 93.75 * 512 / width})
    period = width * params.hop_length
    audio = render(pattern, num_samples=3 * period)
    image = audio_to_image(audio[None], params.sample_rate, params)
    middle = image.crop((width, 0, 2 * width, image.height))  # columns at t = j * hop, periodic
    middle.info.update(image.info)
    return middle


def equivariance_error(pipe) -> dict:
    """max |f(roll(x)) - roll(f(x))| / max |f(x)| for the UNet and VAE decoder, plain vs circular."""
    import torch

    torch.manual_seed(0)
    h = pipe.spectrogram_params.num_frequencies // pipe.vae_scale_factor
    z = torch.randn(1, 4, h, 32)
    emb = torch.randn(1, 77, pipe.unet.config.cross_attention_dim)
    # Strided (downsampling) convolutions are only equivariant to shifts by their stride
    # product: 8 latent columns covers SD's three downsamplings.
    shift = 8
    out = {}
    for mode in ("plain", "circular"):
        ctx = circular_width(pipe.unet, pipe.vae) if mode == "circular" else _null()
        with torch.no_grad(), ctx:
            u0 = pipe.unet(z, 500, encoder_hidden_states=emb).sample
            u1 = pipe.unet(torch.roll(z, shift, -1), 500, encoder_hidden_states=emb).sample
            d0 = pipe.vae.decode(z).sample
            d1 = pipe.vae.decode(torch.roll(z, shift, -1)).sample
        f = pipe.vae_scale_factor
        out[mode] = {
            "unet": float((torch.roll(u0, shift, -1) - u1).abs().max() / u0.abs().max()),
            "vae_decoder": float((torch.roll(d0, shift * f, -1) - d1).abs().max() / d0.abs().max()),
        }
    return out


class _null:
    def __enter__(self):
        return 0

    def __exit__(self, *exc):
        return False


def bench_loop(pipe, *, width: int, steps: int) -> dict:
    from riffgen.audio import image_to_audio
    from riffgen.endless.loop import loop_audio

    out: dict = {"equivariance_error": equivariance_error(pipe)}
    image = periodic_beat_image(512)
    plain, _ = image_to_audio(image)
    looped, _ = loop_audio(image)
    # Reference: the same spectrogram three times over, decoded as one continuous piece; its
    # flux at the loop points is what an ideal (seamless) loop would have there.
    triple = Image.new(image.mode, (3 * image.width, image.height))
    for k in range(3):
        triple.paste(image, (k * image.width, 0))
    triple.info.update(image.info)
    continuous, _ = image_to_audio(triple)
    flux_c, centres_c = spectral_flux(continuous)
    for name, audio in (("plain_decode", plain), ("circular_decode", looped)):
        n = audio.shape[1]
        tiled = np.concatenate([audio, audio, audio], axis=1)
        rep = seam_report(tiled, [n, 2 * n])
        flux, centres = spectral_flux(tiled)
        near = np.zeros(flux.size, dtype=bool)
        near_c = np.zeros(flux_c.size, dtype=bool)
        for s in (n, 2 * n):
            near |= np.abs(centres - s) <= 2205 + 512
            near_c |= np.abs(centres_c - s) <= 2205 + 512
        jumps = np.abs(np.diff(audio[0]))
        out[name] = {
            "samples": n,
            "wrap_sample_jump": round(float(abs(audio[0, 0] - audio[0, -1])), 4),
            "inside_sample_jump_p99": round(float(np.percentile(jumps, 99)), 4),
            "inside_sample_jump_max": round(float(jumps.max()), 4),
            "seam_flux": round(float(flux[near].max()), 3),
            "continuous_flux_same_moment": round(float(flux_c[near_c].max()), 3),
            "seam_jump_ratio": round(rep.jump_ratio, 3),
            "seam_flux_ratio_vs_inside_max": round(rep.flux_ratio, 3),
        }
    with circular_width(pipe.unet, pipe.vae):
        clip = pipe.text_to_audio("ambient loop", seed=3, num_inference_steps=steps, width=width)
    out["debug_model_loop_samples"] = as_loop(clip, pipe.spectrogram_params).audio.shape[1]
    return out


def bench_transform(pipe, *, seconds: float, steps: int, width: int) -> dict:
    sr = 44100
    t = np.arange(int(seconds * sr)) / sr
    song = (0.4 * np.sin(2 * np.pi * 110 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    began = time.perf_counter()
    out, _ = transform_long(
        pipe, song, sr, ["rock", "jazz"], num_inference_steps=steps, width=width
    )
    spent = time.perf_counter() - began
    starts = window_starts(song.size, window=(width - 1) * 441, overlap=sr // 2)
    rep = seam_report(out, starts[1:])
    return {
        "input_s": seconds,
        "output_samples_equal": int(out.shape[1]) == song.size,
        "windows": len(starts),
        "seconds": round(spent, 2),
        "seam_jump_ratio": round(rep.jump_ratio, 3),
        "seam_flux_ratio": round(rep.flux_ratio, 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model dir/id (default: a fresh debug model)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: jam,loop,transform")
    args = ap.parse_args()
    from riffgen.diffusion import RiffgenPipeline

    # "debug": the registry builds the debug model in memory (seed 0).
    pipe = RiffgenPipeline.from_pretrained(args.model or "debug", device=args.device, dtype="fp32")
    skip = set(args.skip.split(","))
    report: dict = {"model": str(args.model or "debug"), "device": args.device}
    if "jam" not in skip:
        report["jam"] = bench_jam(pipe, clips=args.clips, width=args.width, steps=args.steps)
    if "loop" not in skip:
        report["loop"] = bench_loop(pipe, width=args.width, steps=args.steps)
    if "transform" not in skip:
        report["transform"] = bench_transform(
            pipe, seconds=12.0, steps=args.steps, width=args.width
        )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
