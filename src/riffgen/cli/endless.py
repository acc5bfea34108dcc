"""CLI group for endless music: ``riffgen jam`` (offline render of an endless jam) and
``riffgen seed-images`` (list the shipped seed images).

Nothing heavy is imported at module level (``riffgen --help`` stays fast)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riffgen.cli import _shared
from riffgen.cli._shared import finite_float
from riffgen.errors import RiffgenError

if TYPE_CHECKING:
    from riffgen.endless.engine import ClipMaker
    from riffgen.endless.schedule import JamPrompt

# A jam streams to disk, so memory does not bound its length; the file format does: 16-bit
# WAV ends at 4 GB, and 6 h of 44.1 kHz stereo is 3.8 GB.
MAX_JAM_SECONDS = 6 * 3600.0
BPM_RANGE = (20.0, 400.0)  # the tempi JamConfig accepts


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "jam",
        help="render an endless Riffusion-style jam through several prompts to one audio file",
        description=(
            "Render music that flows from prompt to prompt, clip after clip, on the original "
            "Riffusion app's schedule (alpha steps of 0.25, seed walks, transitions), joined with "
            "short crossfades. Writes OUT (exactly --duration seconds), OUT.png (the stitched "
            "spectrogram) and OUT.json (every clip's parameters). Ctrl-C (or SIGTERM) keeps "
            "what was made."
        ),
    )
    p.add_argument(
        "prompts",
        nargs="+",
        metavar="PROMPT",
        help='prompts in order; "PROMPT:SECONDS" sets how long one lasts',
    )
    p.add_argument(
        "--duration", type=finite_float, required=True, metavar="S", help="length, seconds"
    )
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
    p.add_argument(
        "--bpm", type=finite_float, help="tempo: picks the closest seed image of the feel"
    )
    p.add_argument("--denoising", type=finite_float, default=0.75, help="0-1 (default 0.75)")
    p.add_argument("--guidance", type=finite_float, default=7.0, help="default 7.0")
    p.add_argument("--steps", type=int, default=None, help="per clip: " + _shared.STEPS_HELP)
    p.add_argument("--negative-prompt", help="what to steer away from, for every clip")
    p.add_argument(
        "--crossfade-ms", type=finite_float, default=40.0, help="seam crossfade (default 40)"
    )
    _shared.add_model_flags(p)
    _shared.add_decoder_flag(p)
    p.add_argument("--image", metavar="PNG", help="spectrogram output (default OUT.png)")
    p.add_argument("--log", metavar="JSON", help="clip log (default OUT.json)")
    p.add_argument("--no-image", action="store_true", help="do not write the spectrogram")
    p.add_argument(
        "--overwrite", action="store_true", help="allow an output to replace an input file"
    )
    _shared.add_verbosity(p)
    p.set_defaults(func=cmd_jam)

    p = subparsers.add_parser(
        "seed-images",
        help="list riffgen's seed images (name, tempo, feel)",
        description="List the seed images riffgen ships, with tempo and aliases.",
    )
    p.set_defaults(func=cmd_seed_images)


def cmd_seed_images(args: argparse.Namespace) -> int:
    from riffgen.endless.seeds import list_seed_images

    for e in list_seed_images():
        aliases = f"  (alias: {', '.join(e['aliases'])})" if e.get("aliases") else ""
        print(f"{e['name']:<16} {e['bpm']:>5g} BPM  {e['feel']:<10} {e['description']}{aliases}")
    return 0


def jam_prompts(
    texts: list[str], *, duration_s: float, prompt_durations: str | None = None
) -> list[JamPrompt]:
    """Prompts with durations: explicit ones kept, the rest share what is left evenly."""
    from riffgen.endless.schedule import JamPrompt, parse_prompt

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
        for value in values:
            _shared.check_range("--prompt-durations", value, 0, MAX_JAM_SECONDS)
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
    """Load the pipeline named by the model flags (tests replace this function)."""
    from riffgen.endless.engine import pipeline_clip_maker

    pipe = _shared.load_pipeline(args)
    _shared.resolve_steps(args, pipe)  # no --steps: the model's default (in the log too)
    return pipeline_clip_maker(pipe, num_inference_steps=args.steps, callback=callback)


class ClipBoundary:
    """Ctrl-C and SIGTERM during a render take effect while a clip is being made (where the
    time goes, so the stop is prompt), never between clips: there the renderer is writing
    the clip's audio, image columns and log entry, and must not be cut in half (the log
    would miss a clip the audio has). A signal between clips stops the next one before it
    starts; one during the final writes is held back, so they finish.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._inside = False

    def _stop(self) -> None:
        raise _shared.Terminated if self.signum == signal.SIGTERM else KeyboardInterrupt

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signum = self.signum or signum
        if self._inside:
            self._stop()

    def wrap(self, maker: Callable[..., Any]) -> Callable[..., Any]:
        def make(*args: Any, **kwargs: Any) -> Any:
            if self.signum is not None:
                self._stop()
            self._inside = True
            try:
                return maker(*args, **kwargs)
            finally:
                self._inside = False

        return make

    @contextlib.contextmanager
    def installed(self) -> Iterator[ClipBoundary]:
        """These handlers for SIGINT and SIGTERM while the block runs (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            self._inside = True  # no handlers here: signals act wherever they land
            yield self
            return
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    @property
    def exit_code(self) -> int:
        return (
            _shared.EXIT_TERMINATED if self.signum == signal.SIGTERM else _shared.EXIT_INTERRUPTED
        )


def check_jam_numbers(args: argparse.Namespace) -> None:
    """Bounds of jam's numeric flags, before the model loads."""
    _shared.check_range("--duration", args.duration, 0, MAX_JAM_SECONDS, "6 h: 4 GB of WAV")
    if not args.duration > 0:
        raise RiffgenError(f"--duration must be > 0 s, got {args.duration:g}")
    _shared.check_steps_guidance_seed(args)
    if args.bpm is not None:
        _shared.check_range("--bpm", args.bpm, *BPM_RANGE)


def cmd_jam(args: argparse.Namespace) -> int:
    from riffgen.endless.engine import JamConfig, JamEngine
    from riffgen.endless.render import output_format, render_jam
    from riffgen.endless.seeds import get_seed_image
    from riffgen.files import atomic_outputs, check_output_paths, refuse_overwriting_inputs

    # Every check before the model loads: a typo must not cost a minute of loading.
    out = Path(args.output)
    output_format(out)
    check_jam_numbers(args)
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
    image_path = None if args.no_image else Path(args.image or out.with_suffix(".png"))
    log_path = Path(args.log or out.with_suffix(".json"))
    paths = [p for p in (out, image_path, log_path) if p is not None]
    check_output_paths(paths)
    refuse_overwriting_inputs(paths, [args.seed_image], overwrite=args.overwrite)
    _shared.check_model_flags(args)

    bar = _progress(args.duration, quiet=args.quiet)
    state = {"base": 0.0, "shown": 0.0}

    def on_step(step: int, total: int) -> None:
        # Fractional progress inside a clip, so slow CPUs still show movement.
        if bar is not None and total:
            target = min(state["base"] + clip_s * step / total, args.duration)
            bar.update(max(target - state["shown"], 0.0))
            state["shown"] = max(state["shown"], target)

    def on_clip(clip: Any, written: int) -> None:
        state["base"] = written / engine.sample_rate
        if bar is not None:
            bar.update(max(state["base"] - state["shown"], 0.0))
            state["shown"] = max(state["shown"], state["base"])
            bar.set_postfix_str(f"clip {clip.index} {clip.end.prompt[:30]!r} a={clip.alpha:g}")

    boundary = ClipBoundary()
    try:
        maker = make_clip_maker(args, callback=on_step)
        engine = JamEngine(boundary.wrap(maker), prompts, seed_image=seed, config=config)
        clip_s = engine.period / engine.sample_rate
        header = {
            "command": "jam",
            "prompts": [{"prompt": p.prompt, "duration_s": p.duration_s} for p in prompts],
            "seed": args.seed,
            "seed_image": seed.name,
            "bpm": engine.bpm,
            "clip_s": clip_s,
            "crossfade_ms": args.crossfade_ms,
            "num_inference_steps": args.steps,
            "model": args.model,
            "decoder": args.decoder,
        }
        # The three outputs are renamed into place together once the render ends (also
        # when it was interrupted: the shorter render is valid and kept).
        with boundary.installed(), atomic_outputs(paths) as temps:
            tmp = dict(zip(paths, temps, strict=True))
            result = render_jam(
                engine,
                tmp[out],
                duration_s=args.duration,
                image_path=None if image_path is None else tmp[image_path],
                log_path=tmp[log_path],
                header=header,
                on_clip=on_clip,
            )
    finally:
        if bar is not None:
            bar.close()
    files = ", ".join(str(p) for p in paths)
    if result.interrupted:
        print(f"interrupted: kept {result.duration_s:.2f} s in {files}", file=sys.stderr)
        return boundary.exit_code
    if not args.quiet:
        print(f"wrote {result.duration_s:.2f} s ({result.clips} clips): {files}", file=sys.stderr)
    return 0


def _progress(total_s: float, *, quiet: bool) -> Any:
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
