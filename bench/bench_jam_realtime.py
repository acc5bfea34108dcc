"""Is a jam with the mini model faster than real time? Seconds of audio per second of wall time.

    .venv/bin/python bench/bench_jam_realtime.py [--seconds 60] [--threads 2]

Runs, one after the other in this process, the same jam (three prompts, the Riffusion app's
schedule, the og_beat seed) until ``--seconds`` of audio are made, under several settings:
50 PNDM steps (every model's default before models could name their own; denoising 0.75:
~37 steps a clip) and the model's own default (``riffgen.json`` ``defaults``, mini: 20), with
two decoders. Prints one JSON line per setting and a table: real-time factor (audio s /
wall s, > 1 is faster than real time), wall seconds per clip (median), and the share of it
spent decoding the image to audio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from riffgen.diffusion import RiffgenPipeline
from riffgen.endless import JamConfig, JamEngine, get_seed_image, pipeline_clip_maker

PROMPTS = ["lofi hip hop beat", "jazz piano trio", "fast techno with a driving kick"]


def run_jam(pipe: RiffgenPipeline, *, steps: int, seconds: float, decoder: str | None) -> dict:
    engine = JamEngine(
        pipeline_clip_maker(pipe, num_inference_steps=steps, decoder=decoder),
        PROMPTS,
        seed_image=get_seed_image("og_beat"),
        config=JamConfig(seed=1),
    )
    audio_s, clip_wall = 0.0, []
    start = last = time.perf_counter()
    for clip in engine.clips():
        now = time.perf_counter()
        clip_wall.append(now - last)
        last = now
        audio_s += clip.audio.shape[-1] / clip.sample_rate
        if audio_s >= seconds:
            break
    wall = time.perf_counter() - start
    return {
        "audio_s": round(audio_s, 2),
        "wall_s": round(wall, 2),
        "realtime_factor": round(audio_s / wall, 2),
        "clips": len(clip_wall),
        "median_clip_wall_s": round(statistics.median(clip_wall), 3),
    }


def decode_share(pipe: RiffgenPipeline, *, decoder: str | None) -> float:
    """Seconds to decode one 512-column image of the model with ``decoder`` (median of 3)."""
    from riffgen.audio.convert import image_to_audio

    image = pipe.text_to_audio("jazz piano trio", num_inference_steps=2, seed=0).image
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        image_to_audio(image, decoder=decoder) if decoder else image_to_audio(image)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per setting (60)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default="mini")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from riffgen.diffusion.factory import load_pipeline

    steps = load_pipeline(args.model).default_steps  # riffgen.json "defaults" (mini: 20)
    settings = [
        ("50 steps (the default before), griffin-lim", 50, "griffin-lim"),
        (f"the model's default: {steps} steps, griffin-lim", steps, "griffin-lim"),
        (f"the model's default: {steps} steps, vocoder", steps, "vocoder"),
    ]
    rows = []
    for name, steps, decoder in settings:
        pipe = load_pipeline(args.model)
        pipe.text_to_audio("warm up", num_inference_steps=2, seed=0)  # caches, filterbanks
        row = {"setting": name, **run_jam(pipe, steps=steps, seconds=args.seconds, decoder=decoder)}
        row["decode_s_per_clip"] = round(decode_share(pipe, decoder=decoder), 3)
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(f"\n{'setting':52} {'x real time':>11} {'s/clip':>7} {'decode s':>9}")
    for r in rows:
        print(
            f"{r['setting']:52} {r['realtime_factor']:>11} {r['median_clip_wall_s']:>7}"
            f" {r['decode_s_per_clip']:>9}"
        )


if __name__ == "__main__":
    main()
