"""CLI group for the diffusion pipeline: ``generate``, ``transform``, ``inpaint``, ``interpolate``.

Each command: check the arguments and read the inputs (fast failures, before the model
loads), load the pipeline, let it check the values that depend on the model (its own
``check_inputs``), run one small ``run_*`` function, and write OUT (audio), OUT.png
(spectrogram) and OUT.json (every parameter) together (:func:`riffgen.outputs.write_result`):
on any error no file is left. The ``run_*`` functions take plain values so other commands
(endless music) can call or replace them.

Nothing heavy is imported at module level: ``riffgen --help`` must not load numpy or torch.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riffgen.cli import _shared
from riffgen.cli._shared import finite_float
from riffgen.errors import RiffgenError

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from riffgen.diffusion.types import PromptInput, RiffgenOutput

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


# ---------------------------------------------------------------------------- parsers


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the diffusion commands to the ``riffgen`` parser."""
    p = subparsers.add_parser(
        "generate",
        help="text -> music clip (WAV/FLAC/MP3/OGG + spectrogram PNG + JSON)",
        description="Generate a clip from a text prompt. Writes OUT, OUT.png and OUT.json.",
    )
    p.add_argument("prompt", help='what to play, e.g. "funky bassline (slap:1.3)"')
    add_output(p)
    length = p.add_mutually_exclusive_group()
    length.add_argument(
        "--duration", type=finite_float, default=None, metavar="S", help="clip length, default 5.11"
    )
    length.add_argument(
        "--width", type=int, default=None, metavar="PX", help="image width (the model's multiple)"
    )
    p.add_argument(
        "--denoising",
        type=finite_float,
        default=0.75,
        metavar="X",
        help="with --seed-image: how much to change it, 0-1 (default 0.75)",
    )
    p.add_argument(
        "--loop",
        action="store_true",
        help="a seamless loop: the clip's end flows into its start when repeated",
    )
    p.add_argument(
        "--no-tempo-seed",
        dest="tempo_seed",
        action="store_false",
        help="a prompt naming its BPM (e.g. 'at 96 bpm') starts from noise, not from a beat at it",
    )
    _add_common(p, seed_image_help="start from this spectrogram image (img2img) instead of noise")
    p.set_defaults(func=cmd_generate)

    p = subparsers.add_parser(
        "transform",
        help="audio -> new audio in the style of a prompt (img2img)",
        description="Re-imagine a clip (audio file or spectrogram image) following a prompt.",
    )
    p.add_argument("audio", nargs="?", help="input audio or spectrogram image")
    p.add_argument("prompt", help="what it should become")
    add_output(p)
    p.add_argument(
        "--denoising", type=finite_float, default=0.75, metavar="X", help="0 = unchanged .. 1 = new"
    )
    p.add_argument(
        "--then",
        action="append",
        default=[],
        metavar="PROMPT",
        help="a further prompt the song moves through (repeatable; input longer than one clip)",
    )
    add_input_window(p)
    _add_common(p, seed_image_help="spectrogram image to transform (instead of AUDIO)")
    p.set_defaults(func=cmd_transform)

    p = subparsers.add_parser(
        "inpaint",
        help="keep part of a clip and regenerate the rest",
        description="Regenerate a time range, a frequency band, or the white part of a mask; "
        "the rest comes back unchanged.",
    )
    p.add_argument("audio", nargs="?", help="input audio or spectrogram image")
    p.add_argument("prompt", help="what to put in the repainted part")
    add_output(p)
    p.add_argument("--start", type=finite_float, default=None, metavar="S", help="repaint from (s)")
    p.add_argument("--end", type=finite_float, default=None, metavar="S", help="repaint until (s)")
    p.add_argument("--min-hz", type=finite_float, default=None, metavar="HZ", help="band bottom")
    p.add_argument("--max-hz", type=finite_float, default=None, metavar="HZ", help="band top (Hz)")
    p.add_argument("--mask", default=None, metavar="IMAGE", help="mask image: white = repaint")
    p.add_argument(
        "--denoising", type=finite_float, default=1.0, metavar="X", help="0-1 (default 1: all new)"
    )
    add_input_window(p)
    _add_common(p, seed_image_help="spectrogram image to inpaint (instead of AUDIO)")
    p.set_defaults(func=cmd_inpaint)

    p = subparsers.add_parser(
        "interpolate",
        help="morph between two prompts/seeds over several clips (joined in one file)",
        description="Riffusion's interpolation: clips at alpha 0..1 between two endpoints, "
        "each an img2img of the seed image, joined into one file.",
    )
    p.add_argument("prompt_a", help="start prompt")
    p.add_argument("prompt_b", help="end prompt")
    add_output(p)
    p.add_argument("--seed-a", type=int, default=None, metavar="N", help="default --seed")
    p.add_argument("--seed-b", type=int, default=None, metavar="N", help="default seed-a + 1")
    p.add_argument("--clips", type=int, default=5, metavar="N", help="clips (default 5)")
    p.add_argument(
        "--denoising", type=finite_float, default=0.75, metavar="X", help="both endpoints, 0-1"
    )
    p.add_argument("--mask", default=None, metavar="IMAGE", help="mask image: white = repaint")
    _add_common(p, seed_image_help="seed image name (og_beat, beat_120, ...) or file")
    p.set_defaults(func=cmd_interpolate)


def add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="audio file (.wav .flac .mp3 .ogg)"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="allow an output to replace an input file"
    )


def add_input_window(p: argparse.ArgumentParser) -> None:
    p.add_argument("--offset", type=finite_float, default=0.0, metavar="S", help="input start (s)")
    p.add_argument(
        "--input-duration", type=finite_float, default=None, metavar="S", help="input length (s)"
    )


def _add_common(p: argparse.ArgumentParser, *, seed_image_help: str) -> None:
    p.add_argument("--negative-prompt", default=None, metavar="TEXT", help="what to avoid")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    p.add_argument("--steps", type=int, default=None, metavar="N", help=_shared.STEPS_HELP)
    p.add_argument("--guidance", type=finite_float, default=7.0, metavar="G", help="CFG scale (7)")
    p.add_argument("--seed-image", default=None, metavar="IMAGE", help=seed_image_help)
    _shared.add_model_flags(p)
    _shared.add_decoder_flag(p)
    _shared.add_verbosity(p)


# ---------------------------------------------------------------------------- shared helpers


def check_common(args: argparse.Namespace, inputs: list[str | None]) -> tuple[Path, Path, Path]:
    """Fail fast (before loading a model) on bad values, outputs and flags; returns the
    output paths. Values that depend on the model are the pipeline's to check."""
    from riffgen.files import check_output_paths, refuse_overwriting_inputs
    from riffgen.outputs import output_paths

    paths = output_paths(args.output)
    check_output_paths(paths)
    refuse_overwriting_inputs(paths, inputs, overwrite=args.overwrite)
    _shared.check_generation_numbers(args)
    _shared.check_model_flags(args)
    return paths


def load_pipeline(args: argparse.Namespace) -> Any:
    """The pipeline named by the model flags (see :func:`riffgen.cli._shared.load_pipeline`);
    no --steps becomes the model's default number of steps."""
    pipe = _shared.load_pipeline(args)
    _shared.resolve_steps(args, pipe)
    return pipe


def check_with_pipeline(pipe: Any, **values: Any) -> None:
    """The pipeline's own checks (width multiple, seeds, ...) before any heavy work.

    Pipelines without ``check_inputs`` (the fake one) accept what the CLI let through.
    """
    check = getattr(pipe, "check_inputs", None)
    if check is not None:
        check(prompt=values.pop("prompt", ""), **values)


@dataclass
class ClipInput:
    """An input clip: a spectrogram image or audio samples, and where it came from."""

    source: str
    image: Image.Image | None = None
    audio: np.ndarray | None = None
    sample_rate: int | None = None


def read_clip(
    path: str | None,
    seed_image: str | None,
    *,
    offset_s: float = 0.0,
    duration_s: float | None = None,
) -> ClipInput:
    """AUDIO (audio file or image) or --seed-image (exactly one) -> ClipInput."""
    from riffgen.audio import load_audio
    from riffgen.audio.image import open_image

    if (path is None) == (seed_image is None):
        raise RiffgenError("give an input: AUDIO or --seed-image (exactly one)")
    if seed_image is not None:
        return ClipInput(source=seed_image, image=read_seed_image(seed_image))
    if Path(path).suffix.lower() in IMAGE_SUFFIXES:
        return ClipInput(source=path, image=open_image(path))
    samples, sr = load_audio(path, start=offset_s, duration=duration_s)
    return ClipInput(source=path, audio=samples, sample_rate=sr)


def read_seed_image(name_or_path: str | None) -> Image.Image:
    """A shipped seed image by name (og_beat, beat_120, ...) or an image file."""
    from riffgen.audio.image import open_image

    if name_or_path is not None and Path(name_or_path).is_file():
        return open_image(name_or_path)
    try:
        from riffgen.endless.seeds import get_seed_image
    except ImportError:
        raise RiffgenError(f"seed image not found: {name_or_path}") from None
    return get_seed_image(name_or_path).image


class StepBar:
    """Drives one tqdm bar (stderr) over ``runs`` pipeline calls from step callbacks.

    The number of steps of a call is known only once it runs (img2img skips steps), so the
    total is updated from each callback; ``runs`` may be raised while running.
    """

    def __init__(self, bar: Any, runs: int) -> None:
        self.bar, self.runs = bar, runs
        self.run = self.done = self.prev = self.prev_total = 0

    def __call__(self, step: int, steps: int) -> None:
        if step <= self.prev:  # a new pipeline call started
            self.done += self.prev_total
            self.run += 1
        self.prev, self.prev_total = step, steps
        self.bar.total = self.done + steps * max(self.runs - self.run, 1)
        self.bar.n = self.done + step
        self.bar.refresh()


@contextlib.contextmanager
def progress(*, runs: int = 1, quiet: bool, desc: str) -> Iterator[StepBar]:
    """A pipeline callback (a :class:`StepBar`) for one bar, hidden with ``quiet``."""
    from tqdm import tqdm

    with tqdm(total=None, desc=desc, unit="step", file=sys.stderr, disable=quiet) as bar:
        yield StepBar(bar, runs)


def write_outputs(
    output: str,
    result: RiffgenOutput,
    *,
    command: str,
    args: argparse.Namespace,
    extra: dict[str, Any] | None = None,
) -> tuple[Path, Path, Path]:
    """Write the audio, OUT.png and OUT.json, all or nothing."""
    from riffgen import __version__
    from riffgen.outputs import write_result

    hidden = ("func", "quiet", "verbose", "overwrite")
    sidecar = {
        "riffgen_version": __version__,
        "command": command,
        "arguments": {k: v for k, v in vars(args).items() if k not in hidden},
        "parameters": result.parameters,
        **(extra or {}),
    }
    return write_result(output, result, sidecar)


def _report(paths: tuple[Path, Path, Path], result: RiffgenOutput, quiet: bool) -> None:
    if not quiet:
        print(f"wrote {paths[0]} ({result.duration_s:.2f} s), {paths[1].name}, {paths[2].name}")


# ---------------------------------------------------------------------------- per-command logic


def run_generate(
    pipe: Any,
    prompt: str,
    *,
    negative_prompt: str | None,
    seed: int,
    steps: int,
    guidance: float,
    duration_s: float | None = None,
    width: int | None = None,
    seed_image: Image.Image | None = None,
    denoising: float = 0.75,
    callback: Callable[[int, int], None] | None = None,
    tempo_seed: bool = True,
) -> RiffgenOutput:
    """Text -> clip; with a seed image, img2img from it instead of pure noise.
    ``tempo_seed``: see :meth:`RiffgenPipeline.text_to_audio`."""
    if seed_image is not None:
        return pipe.audio_to_audio(
            prompt,
            init_image=seed_image,
            denoising=denoising,
            negative_prompt=negative_prompt,
            seed=seed,
            num_inference_steps=steps,
            guidance=guidance,
            callback=callback,
        )
    return pipe.text_to_audio(
        prompt,
        negative_prompt=negative_prompt,
        seed=seed,
        num_inference_steps=steps,
        guidance=guidance,
        width=width or 512,
        duration_s=duration_s,
        callback=callback,
        tempo_seed=tempo_seed,
    )


def run_transform(
    pipe: Any,
    clip: ClipInput,
    prompt: str,
    *,
    denoising: float,
    negative_prompt: str | None,
    seed: int,
    steps: int,
    guidance: float,
    callback: Callable[[int, int], None] | None = None,
) -> RiffgenOutput:
    """One clip (image or audio) -> transformed clip."""
    return pipe.audio_to_audio(
        prompt,
        init_image=clip.image,
        init_audio=clip.audio,
        sample_rate=clip.sample_rate,
        denoising=denoising,
        negative_prompt=negative_prompt,
        seed=seed,
        num_inference_steps=steps,
        guidance=guidance,
        callback=callback,
    )


def is_longer_than_a_clip(pipe: Any, clip: ClipInput) -> bool:
    """True when the audio needs more than one 512-column window of the model."""
    params = pipe.spectrogram_params
    seconds = clip.audio.shape[-1] / clip.sample_rate
    return seconds > params.num_samples(512) / params.sample_rate + 0.05


def run_transform_long(
    pipe: Any, clip: ClipInput, prompts: list[str], args: argparse.Namespace
) -> RiffgenOutput:
    """Whole-song audio-to-audio (:func:`riffgen.endless.transform.transform_long`).

    The output is exactly as long as the input; its image is the spectrogram of the result.
    """
    from riffgen.audio import audio_to_image
    from riffgen.diffusion.types import RiffgenOutput
    from riffgen.endless.transform import transform_long

    def windows_done(done: int, total: int) -> None:
        callback.runs = total  # the bar's total covers every window from the first one on

    with progress(quiet=args.quiet, desc="transform") as callback:
        audio, sr = transform_long(
            pipe,
            clip.audio,
            clip.sample_rate,
            prompts,
            denoising=args.denoising,
            guidance=args.guidance,
            seed=args.seed,
            negative_prompt=args.negative_prompt,
            num_inference_steps=args.steps,
            callback=callback,
            progress=windows_done,
        )
    parameters = {
        "mode": "audio_to_audio_long",
        "prompts": prompts,
        "denoising": args.denoising,
        "guidance": args.guidance,
        "seed": args.seed,
        "negative_prompt": args.negative_prompt,
        "num_inference_steps": args.steps,
    }
    image = audio_to_image(audio, sr, pipe.spectrogram_params)
    return RiffgenOutput(audio=audio, sample_rate=sr, image=image, parameters=parameters)


def run_inpaint(
    pipe: Any,
    clip: ClipInput,
    prompt: str,
    *,
    mask_image: Image.Image | None,
    start_s: float | None,
    end_s: float | None,
    min_hz: float | None,
    max_hz: float | None,
    denoising: float,
    negative_prompt: str | None,
    seed: int,
    steps: int,
    guidance: float,
    callback: Callable[[int, int], None] | None = None,
) -> RiffgenOutput:
    return pipe.inpaint(
        prompt,
        init_image=clip.image,
        init_audio=clip.audio,
        sample_rate=clip.sample_rate,
        mask_image=mask_image,
        start_s=start_s,
        end_s=end_s,
        min_hz=min_hz,
        max_hz=max_hz,
        denoising=denoising,
        negative_prompt=negative_prompt,
        seed=seed,
        num_inference_steps=steps,
        guidance=guidance,
        callback=callback,
    )


def interpolation_alphas(clips: int) -> list[float]:
    """``clips`` evenly spaced alphas from 0 to 1 (one clip: alpha 0)."""
    if clips == 1:
        return [0.0]
    return [i / (clips - 1) for i in range(clips)]


def run_interpolate(
    pipe: Any,
    start: PromptInput,
    end: PromptInput,
    *,
    clips: int,
    seed_image: Image.Image,
    mask_image: Image.Image | None,
    steps: int,
    callback: Callable[[int, int], None] | None = None,
) -> RiffgenOutput:
    """``clips`` interpolation clips, joined (short crossfades) into one output."""
    results = [
        pipe.interpolate(
            start,
            end,
            alpha,
            init_image=seed_image,
            mask_image=mask_image,
            num_inference_steps=steps,
            callback=callback,
        )
        for alpha in interpolation_alphas(clips)
    ]
    return join_clips(results)


def join_clips(results: list[RiffgenOutput]) -> RiffgenOutput:
    """Clips one after another at one level (see :func:`riffgen.endless.stitch.join_outputs`)."""
    from riffgen.endless.stitch import join_outputs

    return join_outputs(results)


# ---------------------------------------------------------------------------- handlers


def cmd_generate(args: argparse.Namespace) -> int:
    check_common(args, [args.seed_image])
    if args.loop and args.seed_image:
        raise RiffgenError("--loop makes a clip from text: it cannot start from --seed-image")
    seed_image = read_seed_image(args.seed_image) if args.seed_image else None
    pipe = load_pipeline(args)
    check_with_pipeline(
        pipe,
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        seeds=[args.seed],
        steps=args.steps,
        guidance=args.guidance,
        width=args.width,
        denoising=args.denoising if seed_image is not None else None,
    )
    if args.loop:
        from riffgen.endless.loop import make_loop

        with progress(quiet=args.quiet, desc="loop") as callback:
            result = make_loop(
                pipe,
                args.prompt,
                negative_prompt=args.negative_prompt,
                seed=args.seed,
                num_inference_steps=args.steps,
                guidance=args.guidance,
                width=args.width or 512,
                duration_s=args.duration,
                callback=callback,
            )
    else:
        with progress(quiet=args.quiet, desc="generate") as callback:
            result = run_generate(
                pipe,
                args.prompt,
                negative_prompt=args.negative_prompt,
                seed=args.seed,
                steps=args.steps,
                guidance=args.guidance,
                duration_s=args.duration,
                width=args.width,
                seed_image=seed_image,
                denoising=args.denoising,
                callback=callback,
                tempo_seed=args.tempo_seed,
            )
    extra = {"seed_image": args.seed_image} if args.seed_image else None
    paths = write_outputs(args.output, result, command="generate", args=args, extra=extra)
    _report(paths, result, args.quiet)
    return 0


def cmd_transform(args: argparse.Namespace) -> int:
    check_common(args, [args.audio, args.seed_image])
    clip = read_clip(
        args.audio, args.seed_image, offset_s=args.offset, duration_s=args.input_duration
    )
    if args.then and clip.audio is None:
        raise RiffgenError("--then needs an audio input (a song to move through prompts)")
    if clip.audio is not None:  # a whole song is transformed, but its image must fit
        from riffgen.audio import limits

        limits.check_duration(clip.audio.shape[-1] / clip.sample_rate, what="the input audio")
    pipe = load_pipeline(args)
    check_with_pipeline(
        pipe,
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        seeds=[args.seed],
        steps=args.steps,
        guidance=args.guidance,
        denoising=args.denoising,
    )
    if clip.audio is not None and (args.then or is_longer_than_a_clip(pipe, clip)):
        result = run_transform_long(pipe, clip, [args.prompt, *args.then], args)
    else:
        with progress(quiet=args.quiet, desc="transform") as callback:
            result = run_transform(
                pipe,
                clip,
                args.prompt,
                denoising=args.denoising,
                negative_prompt=args.negative_prompt,
                seed=args.seed,
                steps=args.steps,
                guidance=args.guidance,
                callback=callback,
            )
    paths = write_outputs(
        args.output, result, command="transform", args=args, extra={"input": clip.source}
    )
    _report(paths, result, args.quiet)
    return 0


def cmd_inpaint(args: argparse.Namespace) -> int:
    check_common(args, [args.audio, args.seed_image, args.mask])
    ranges = (args.start, args.end, args.min_hz, args.max_hz)
    if args.mask is None and all(v is None for v in ranges):
        raise RiffgenError("inpaint needs --start/--end, --min-hz/--max-hz or --mask")
    if args.mask is not None and any(v is not None for v in ranges):
        raise RiffgenError("give either --mask or a time/frequency range, not both")
    clip = read_clip(
        args.audio, args.seed_image, offset_s=args.offset, duration_s=args.input_duration
    )
    mask = None
    if args.mask:
        from riffgen.audio.image import open_image

        mask = open_image(args.mask)
    pipe = load_pipeline(args)
    check_with_pipeline(
        pipe,
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        seeds=[args.seed],
        steps=args.steps,
        guidance=args.guidance,
        denoising=args.denoising,
    )
    with progress(quiet=args.quiet, desc="inpaint") as callback:
        result = run_inpaint(
            pipe,
            clip,
            args.prompt,
            mask_image=mask,
            start_s=args.start,
            end_s=args.end,
            min_hz=args.min_hz,
            max_hz=args.max_hz,
            denoising=args.denoising,
            negative_prompt=args.negative_prompt,
            seed=args.seed,
            steps=args.steps,
            guidance=args.guidance,
            callback=callback,
        )
    paths = write_outputs(
        args.output,
        result,
        command="inpaint",
        args=args,
        extra={"input": clip.source, "mask": args.mask},
    )
    _report(paths, result, args.quiet)
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from riffgen.diffusion.types import PromptInput

    check_common(args, [args.seed_image, args.mask])
    seed_a = args.seed if args.seed_a is None else args.seed_a
    seed_b = seed_a + 1 if args.seed_b is None else args.seed_b
    _shared.check_seed("--seed-a", seed_a)
    _shared.check_seed("--seed-b", seed_b)
    seed_image = read_seed_image(args.seed_image or "og_beat")
    mask = None
    if args.mask:
        from riffgen.audio.image import open_image

        mask = open_image(args.mask)
    start = PromptInput(args.prompt_a, seed_a, args.negative_prompt, args.denoising, args.guidance)
    end = PromptInput(args.prompt_b, seed_b, args.negative_prompt, args.denoising, args.guidance)
    pipe = load_pipeline(args)
    check_with_pipeline(
        pipe,
        prompt=args.prompt_a,
        negative_prompt=args.negative_prompt,
        seeds=[seed_a, seed_b],
        steps=args.steps,
        guidance=args.guidance,
        denoising=args.denoising,
    )
    with progress(runs=args.clips, quiet=args.quiet, desc="interpolate") as callback:
        result = run_interpolate(
            pipe,
            start,
            end,
            clips=args.clips,
            seed_image=seed_image,
            mask_image=mask,
            steps=args.steps,
            callback=callback,
        )
    extra = {"seed_image": args.seed_image or "og_beat", "mask": args.mask}
    paths = write_outputs(args.output, result, command="interpolate", args=args, extra=extra)
    _report(paths, result, args.quiet)
    return 0
