"""CLI group for endless music: ``riffgen jam`` (offline render of an endless jam) and
``riffgen seed-images`` (list the shipped seed images)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from riffgen.endless.engine import ClipMaker, JamConfig, JamEngine, pipeline_clip_maker
from riffgen.endless.schedule import JamPrompt, parse_prompt
from riffgen.endless.seeds import get_seed_image, list_seed_images
from riffgen.errors import RiffgenError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "jam",
        help="render an endless Riffusion-style jam through several prompts to one audio file",
        description=(
            "Render music that flows from prompt to prompt, clip after clip, on the original "
            "Riffusion app's schedule (alpha steps of 0.25, seed walks, transitions), joined with "
            "short crossfades. Writes OUT (exactly --duration seconds), OUT.png (the stitched "
            "spectrogram) and OUT.json (every clip's parameters). Ctrl-C keeps what was made."
        ),
    )
    p.add_argument(
        "prompts",
        nargs="+",
        metavar="PROMPT",
        help='prompts in order; "PROMPT:SECONDS" sets how long one lasts',
    )
    p.add_argument("--duration", type=float, required=True, metavar="S", help="length, seconds")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output .wav/.flac/.ogg")
    p.add_argument(
        "--prompt-durations",
        metavar="S,S,...",
        help="seconds per prompt (instead of PROMPT:SECONDS); default: an even split",
    )
    p.add_argument("--seed", type=int, default=0, help="first diffusion seed (default 0)")
    p.add_argument(
        "--seed-image",
        metavar="NAME|FILE",
        help="seed image name (see `riffgen seed-images`), a feel (beat, four_floor, breakbeat, "
        "marimba, vibes), an original id (og_beat, agile, ...) or an image file",
    )
    p.add_argument("--bpm", type=float, help="tempo: picks the closest seed image of the feel")
    p.add_argument("--denoising", type=float, default=0.75, help="0-1 (default 0.75)")
    p.add_argument("--guidance", type=float, default=7.0, help="default 7.0")
    p.add_argument("--steps", type=int, default=50, help="inference steps per clip (default 50)")
    p.add_argument("--negative-prompt", help="what to steer away from, for every clip")
    p.add_argument("--crossfade-ms", type=float, default=40.0, help="seam crossfade (default 40)")
    p.add_argument("--model", default=None, help="hub id, diffusers dir or .safetensors/.ckpt")
    p.add_argument("--device", default=None, help="cuda, cpu, mps (default: auto)")
    p.add_argument("--dtype", default=None, help="fp32, fp16, bf16 (default: auto)")
    p.add_argument("--image", metavar="PNG", help="spectrogram output (default OUT.png)")
    p.add_argument("--log", metavar="JSON", help="clip log (default OUT.json)")
    p.add_argument("--no-image", action="store_true", help="do not write the spectrogram")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_jam)

    p = subparsers.add_parser(
        "seed-images",
        help="list riffgen's seed images (name, tempo, feel)",
        description="List the seed images riffgen ships, with tempo and aliases.",
    )
    p.set_defaults(func=cmd_seed_images)


def cmd_seed_images(args: argparse.Namespace) -> int:
    for e in list_seed_images():
        aliases = f"  (alias: {', '.join(e['aliases'])})" if e.get("aliases") else ""
        print(f"{e['name']:<16} {e['bpm']:>5g} BPM  {e['feel']:<10} {e['description']}{aliases}")
    return 0


def jam_prompts(
    texts: list[str], *, duration_s: float, prompt_durations: str | None = None
) -> list[JamPrompt]:
    """Prompts with durations: explicit ones kept, the rest share what is left evenly."""
    prompts = [parse_prompt(t) for t in texts]
    if prompt_durations:
        try:
            values = [float(v) for v in prompt_durations.split(",") if v.strip()]
        except ValueError:
            raise RiffgenError(f"--prompt-durations must be numbers: {prompt_durations}") from None
        if len(values) != len(prompts):
            raise RiffgenError(
                f"--prompt-durations has {len(values)} values for {len(prompts)} prompts"
            )
        prompts = [JamPrompt(p.prompt, duration_s=v) for p, v in zip(prompts, values, strict=True)]
    free = [p for p in prompts if p.duration_s is None]
    if free:
        fixed = sum(p.duration_s or 0.0 for p in prompts)
        share = max(duration_s - fixed, 0.0) / len(free)
        prompts = [
            p if p.duration_s is not None else JamPrompt(p.prompt, duration_s=share or None)
            for p in prompts
        ]
    return prompts


def make_clip_maker(args: argparse.Namespace, callback: Any = None) -> ClipMaker:
    """Load the pipeline named by ``--model`` (tests replace this function)."""
    from riffgen.diffusion import RiffgenPipeline

    model = args.model or "riffusion/riffusion-model-v1"
    pipe = RiffgenPipeline.from_pretrained(model, device=args.device, dtype=args.dtype)
    return pipeline_clip_maker(pipe, num_inference_steps=args.steps, callback=callback)


def cmd_jam(args: argparse.Namespace) -> int:
    from riffgen.endless.render import output_format, render_jam

    out = Path(args.output)
    output_format(out)
    if args.steps < 1:
        raise RiffgenError(f"--steps must be at least 1, got {args.steps}")
    if not args.duration > 0:
        raise RiffgenError(f"--duration must be > 0 s, got {args.duration}")
    prompts = jam_prompts(
        args.prompts, duration_s=args.duration, prompt_durations=args.prompt_durations
    )
    seed = get_seed_image(args.seed_image, bpm=args.bpm, allow_path=True)
    config = JamConfig(
        seed=args.seed,
        denoising=args.denoising,
        guidance=args.guidance,
        negative_prompt=args.negative_prompt,
        crossfade_ms=args.crossfade_ms,
    )
    bar = _progress(args.duration, quiet=args.quiet)
    state = {"base": 0.0, "shown": 0.0}

    def on_step(step: int, total: int) -> None:
        # Fractional progress inside a clip, so slow CPUs still show movement.
        if bar is not None and total:
            target = min(state["base"] + clip_s * step / total, args.duration)
            bar.update(max(target - state["shown"], 0.0))
            state["shown"] = max(state["shown"], target)

    maker = make_clip_maker(args, callback=on_step)
    engine = JamEngine(maker, prompts, seed_image=seed, config=config)
    clip_s = engine.period / engine.sample_rate

    def on_clip(clip: Any, written: int) -> None:
        state["base"] = written / engine.sample_rate
        if bar is not None:
            bar.update(max(state["base"] - state["shown"], 0.0))
            state["shown"] = max(state["shown"], state["base"])
            bar.set_postfix_str(f"clip {clip.index} {clip.end.prompt[:30]!r} a={clip.alpha:g}")

    header = {
        "command": "jam",
        "prompts": [{"prompt": p.prompt, "duration_s": p.duration_s} for p in prompts],
        "seed": args.seed,
        "seed_image": seed.name,
        "bpm": engine.bpm,
        "clip_s": clip_s,
        "crossfade_ms": args.crossfade_ms,
        "num_inference_steps": args.steps,
        "model": args.model or "riffusion/riffusion-model-v1",
    }
    try:
        result = render_jam(
            engine,
            out,
            duration_s=args.duration,
            image_path=None if args.no_image else Path(args.image or out.with_suffix(".png")),
            log_path=Path(args.log or out.with_suffix(".json")),
            header=header,
            on_clip=on_clip,
        )
    finally:
        if bar is not None:
            bar.close()
    files = ", ".join(str(p) for p in (result.audio_path, result.image_path, result.log_path) if p)
    if result.interrupted:
        print(f"interrupted: kept {result.duration_s:.2f} s in {files}", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"wrote {result.duration_s:.2f} s ({result.clips} clips): {files}", file=sys.stderr)
    return 0


def _progress(total_s: float, *, quiet: bool):
    if quiet:
        return None
    from tqdm import tqdm

    return tqdm(
        total=total_s,
        unit="s",
        desc="jam",
        bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s [{elapsed}<{remaining}{postfix}]",
        file=sys.stderr,
    )
