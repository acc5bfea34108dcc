"""What the commands share: the model flags, -q/-v, number parsing, loading the pipeline.

Only the standard library is imported here at import time; riffgen's modules that pull in
numpy, torch or the model libraries are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

DTYPES = ("auto", "fp32", "fp16", "bf16")

# Exit codes of an interrupted run: 128 + the signal number, as shells report them.
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

# The bounds themselves live with what they protect: riffgen.diffusion.types (steps, guidance,
# seconds per generated clip) and riffgen.audio.limits (image widths, audio lengths,
# iterations). The CLI checks its flags against them before anything loads.
CLIP_S = 5.12  # one 512-column clip of the format, for bounding joined outputs


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every command handles both the same way: a jam keeps
    the valid shorter render, temporaries are removed."""


# ---------------------------------------------------------------------------- flags


def finite_float(text: str) -> float:
    """argparse type: a float that is a number (no nan, no inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def add_model_flags(p: argparse.ArgumentParser, *, default_model: str | None = None) -> None:
    """--model --lora --lora-scale --scheduler --device --dtype, for every generating command."""
    from riffgen.models import DEFAULT_MODEL  # import-light by design

    p.add_argument(
        "--model",
        default=default_model or DEFAULT_MODEL,
        metavar="M",
        help="hub id, diffusers directory, .safetensors/.ckpt, mini, debug or fake "
        "(default %(default)s)",
    )
    p.add_argument("--lora", default=None, metavar="PATH", help="LoRA weights file or dir")
    p.add_argument(
        "--lora-scale", type=finite_float, default=1.0, metavar="X", help="LoRA strength (1)"
    )
    # Checked after parsing (check_model_flags): listing the names would import diffusion.
    p.add_argument(
        "--scheduler",
        default="pndm",
        metavar="NAME",
        help="sampler: pndm (default), ddim, dpm++, dpm++-karras, euler, euler-a, lms, unipc",
    )
    p.add_argument("--device", default=None, metavar="D", help="cpu, cuda, cuda:N, mps (auto)")
    p.add_argument("--dtype", default=None, choices=DTYPES, help="weights dtype (default auto)")


def add_decoder_flag(p: argparse.ArgumentParser, *, default: str | None = "auto") -> None:
    """--decoder vocoder|griffin-lim|original: how spectrogram images become audio.

    ``default`` "auto" is riffgen's default (:data:`riffgen.audio.decoders.DEFAULT_DECODER`);
    None leaves the flag unset (the command decides, e.g. from an older flag or per job).
    """
    from riffgen.audio.decoders import DECODERS, DEFAULT_DECODER  # no torch

    value = DEFAULT_DECODER if default == "auto" else default
    p.add_argument(
        "--decoder",
        choices=DECODERS,
        default=value,
        help="image -> audio: griffin-lim (fast phase recovery), vocoder (riffgen's neural "
        "vocoder; falls back to griffin-lim for formats it was not trained for) or original "
        f"(Riffusion's Griffin-Lim); default {DEFAULT_DECODER}",
    )


def add_verbosity(p: argparse.ArgumentParser) -> None:
    """-q (no progress bar, no summary line) and -v (library notices too)."""
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    # SUPPRESS: an unset -v here must not hide `riffgen -v COMMAND`.
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="let the model libraries print their notices",
    )


def verbose(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "verbose", False))


# ---------------------------------------------------------------------------- checks


def check_device(device: str | None) -> None:
    """Raise RiffgenError for a device that does not exist here (cuda:7, xyz)."""
    if device is None or device == "auto":
        return
    from riffgen.models.devices import resolve_device

    resolve_device(device)


def check_model_flags(args: argparse.Namespace) -> None:
    """Fail fast, before loading anything, on a bad scheduler, LoRA path or device."""
    from pathlib import Path

    from riffgen.diffusion.schedulers import check_scheduler_name
    from riffgen.errors import RiffgenError

    check_scheduler_name(args.scheduler)
    if args.lora is not None and not Path(args.lora).exists():
        raise RiffgenError(f"LoRA weights not found: {args.lora}")
    check_device(args.device)


def _show(value: float) -> str:
    """A number for a message: ints as digits (shortened when huge), floats as %g."""
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    return text if len(text) <= 24 else f"{text[:6]}... ({len(text)} digits)"


def check_range(flag: str, value: float, low: float, high: float, why: str = "") -> None:
    """Raise RiffgenError naming ``flag`` and its bounds unless ``low <= value <= high``."""
    if not low <= value <= high:
        from riffgen.errors import RiffgenError

        reason = f" ({why})" if why else ""
        raise RiffgenError(
            f"{flag} is {_show(value)}: must be {_show(low)} to {_show(high)}{reason}"
        )


def check_seed(flag: str, seed: int) -> None:
    from riffgen.diffusion.types import MAX_SEED

    check_range(flag, seed, 0, MAX_SEED, "a 64-bit seed")


def check_steps_guidance_seed(args: argparse.Namespace) -> None:
    from riffgen.diffusion.types import MAX_GUIDANCE, MAX_STEPS

    if args.steps is not None:  # None: the model's default, known once it loads
        check_range("--steps", args.steps, 1, MAX_STEPS, "the noise schedule has 1000 timesteps")
    check_range("--guidance", args.guidance, 0, MAX_GUIDANCE)
    check_seed("--seed", args.seed)


def check_generation_numbers(args: argparse.Namespace) -> None:
    """Bounds of the numeric flags the generating commands share (those a command has).

    The width's multiple and the widest clip depend on the model: the pipeline checks them
    once loaded, before any work.
    """
    from riffgen.audio import limits
    from riffgen.diffusion.types import MAX_CLIP_SECONDS

    check_steps_guidance_seed(args)
    if getattr(args, "denoising", None) is not None:
        check_range("--denoising", args.denoising, 0, 1)
    if getattr(args, "width", None) is not None:
        check_range(
            "--width", args.width, 1, limits.MAX_COLUMNS, f"{limits.MAX_SECONDS:g} s of audio"
        )
    duration = getattr(args, "duration", None)
    if duration is not None and not 0 < duration <= MAX_CLIP_SECONDS:
        from riffgen.errors import RiffgenError

        raise RiffgenError(
            f"--duration is {duration:g} s: must be above 0 and at most {MAX_CLIP_SECONDS:g} s "
            "per generated clip (longer music: riffgen jam)"
        )
    if getattr(args, "clips", None) is not None:
        max_clips = int(limits.MAX_SECONDS // CLIP_S)
        check_range("--clips", args.clips, 1, max_clips, f"{limits.MAX_SECONDS:g} s joined")
    if getattr(args, "input_duration", None) is not None:
        limits.check_duration(args.input_duration, what="--input-duration")


STEPS_HELP = "denoising steps (default: the model's, 50 for riffusion, 20 for mini)"


def resolve_steps(args: argparse.Namespace, pipe: Any) -> None:
    """Fill ``args.steps`` None (no --steps) with the model's default (``pipe.default_steps``),
    so the run and its JSON sidecar use the number of steps actually made."""
    from riffgen.diffusion.types import steps_for

    args.steps = steps_for(pipe, args.steps)


def load_pipeline(args: argparse.Namespace) -> Any:
    """The pipeline named by --model/--device/--dtype/--lora/--lora-scale/--scheduler,
    decoding its images with --decoder (when the command has it)."""
    from riffgen.diffusion import load_pipeline as load
    from riffgen.outputs import quiet_libraries

    if args.model != "fake":  # the stand-in pipeline imports neither model library
        quiet_libraries(verbose=verbose(args))
    pipe = load(
        args.model,
        device=args.device,
        dtype=args.dtype,
        lora=args.lora,
        lora_scale=args.lora_scale,
        scheduler=args.scheduler,
    )
    decoder = getattr(args, "decoder", None)
    if decoder is not None:  # every mode of the pipeline decodes its images with it
        pipe.decoder = decoder
    return pipe
