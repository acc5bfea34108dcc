"""CLI group for the signal layer: ``audio-to-image``, ``image-to-audio`` and ``info``.

The signal layer is imported inside the commands (``riffgen --help`` stays fast); its
:mod:`riffgen.audio.limits` bound every size before anything is allocated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riffgen.cli import _shared
from riffgen.cli._shared import finite_float
from riffgen.errors import RiffgenError

if TYPE_CHECKING:
    from riffgen.audio import SpectrogramParams

# Columns per image with --split: the model's 512-px width (511 steps, ~5.11 s).
SPLIT_WIDTH = 512
# Work long enough to deserve a progress bar: more than this many image columns.
LONG_COLUMNS = 1024


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the signal-layer commands to the ``riffgen`` parser."""
    p = subparsers.add_parser(
        "audio-to-image",
        help="convert audio (WAV/FLAC/OGG/MP3, any rate) to a Riffusion spectrogram PNG",
        description="Convert audio to a Riffusion spectrogram image (10 ms per column).",
    )
    p.add_argument("audio", help="input audio file")
    p.add_argument(
        "image", help="output PNG; with --split a stem or directory (writes STEM_000.png, ...)"
    )
    p.add_argument(
        "--start", type=finite_float, default=0.0, metavar="S", help="clip start, seconds"
    )
    p.add_argument(
        "--duration", type=finite_float, default=None, metavar="S", help="clip length, s"
    )
    p.add_argument("--stereo", action="store_true", help="stereo image (G = left, B = right)")
    p.add_argument("--min-frequency", type=int, default=None, metavar="HZ", help="default 0")
    p.add_argument("--max-frequency", type=int, default=None, metavar="HZ", help="default 10000")
    p.add_argument("--split", action="store_true", help="one 512-column image per ~5.11 s of audio")
    _add_overwrite(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_audio_to_image)

    p = subparsers.add_parser(
        "image-to-audio",
        help="convert a spectrogram image (or any picture) to audio (WAV/FLAC/MP3/OGG)",
        description="Convert a spectrogram image, or any picture, to audio. "
        "Parameters come from the image's EXIF, else the Riffusion defaults.",
    )
    p.add_argument("image", help="input image (PNG, JPEG, ...; any size and mode)")
    p.add_argument("audio", help="output audio; the extension picks the format")
    p.add_argument(
        "--iterations", type=int, default=None, metavar="N", help="phase iterations (default 32)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    p.add_argument("--device", default=None, metavar="D", help="torch device (default: auto)")
    _shared.add_decoder_flag(p, default=None)
    p.add_argument(
        "--algorithm",
        choices=("riffgen", "original"),
        default=None,
        help="older spelling of --decoder: riffgen (= griffin-lim) or original",
    )
    _add_overwrite(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_image_to_audio)

    p = subparsers.add_parser(
        "info",
        help="describe a spectrogram image or an audio file",
        description="Image: spectrogram parameters and duration. Audio: rate, channels, duration.",
    )
    p.add_argument("file", help="image or audio file")
    p.set_defaults(func=cmd_info)


def _add_overwrite(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--overwrite", action="store_true", help="allow the output to replace the input file"
    )


# -- audio-to-image --------------------------------------------------------------------------


def _params_for(args: argparse.Namespace) -> SpectrogramParams:
    from riffgen.audio import SpectrogramParams

    changes: dict[str, object] = {"stereo": bool(args.stereo)}
    if args.min_frequency is not None:
        changes["min_frequency"] = args.min_frequency
    if args.max_frequency is not None:
        changes["max_frequency"] = args.max_frequency
    return SpectrogramParams(**changes)  # validates: raises RiffgenError


def _split_paths(target: str, source: Path, count: int) -> list[Path]:
    """``IMAGE_000.png ...`` for a stem, ``DIR/<audio stem>_000.png ...`` for a directory."""
    t = Path(target)
    if target.endswith(("/", "\\")) or t.is_dir():
        base = t / source.stem
    else:
        base = t.with_suffix("") if t.suffix.lower() == ".png" else t
    return [base.parent / f"{base.name}_{i:03d}.png" for i in range(count)]


def cmd_audio_to_image(args: argparse.Namespace) -> int:
    from riffgen.audio import audio_to_image, limits, load_audio
    from riffgen.audio.image import save_image
    from riffgen.files import atomic_outputs, check_output_paths, refuse_overwriting_inputs

    params = _params_for(args)
    if not args.split:
        if Path(args.image).suffix.lower() != ".png":
            raise RiffgenError(f"output image must be a .png file (lossless), got {args.image}")
        if args.duration is not None:  # one image holds a bounded length; --split has no bound
            limits.check_duration(args.duration, what="--duration")
        check_output_paths([args.image])
        refuse_overwriting_inputs([args.image], [args.audio], overwrite=args.overwrite)
    samples, sr = load_audio(
        args.audio, start=args.start, duration=args.duration, sample_rate=params.sample_rate
    )
    if not args.split:
        image = audio_to_image(samples, sr, params)
        with atomic_outputs([args.image]) as (tmp,):
            save_image(tmp, image)
        print(f"{args.image}: {image.width}x{image.height} px, {_seconds(params, image.width)}")
        return 0

    chunk = (SPLIT_WIDTH - 1) * params.hop_length
    starts = list(range(0, samples.shape[1], chunk))
    # A tail shorter than one column cannot make an image; it belongs to the previous one.
    if len(starts) > 1 and samples.shape[1] - starts[-1] < params.hop_length:
        starts.pop()
    paths = _split_paths(args.image, Path(args.audio), len(starts))
    check_output_paths(paths)
    refuse_overwriting_inputs(paths, [args.audio], overwrite=args.overwrite)
    bar = _progress(len(starts), "images", disable=args.quiet or len(starts) < 2)
    with atomic_outputs(paths) as temps:  # every image of the split, or none
        for start, tmp in zip(starts, temps, strict=True):
            image = audio_to_image(samples[:, start : start + chunk], sr, params)
            save_image(tmp, image)
            bar.update(1)
    bar.close()
    print(f"wrote {len(paths)} images: {paths[0]} ... {paths[-1].name}")
    return 0


# -- image-to-audio --------------------------------------------------------------------------


def cmd_image_to_audio(args: argparse.Namespace) -> int:
    from riffgen.audio import limits  # no torch: bad values are refused before it loads

    if args.iterations is not None:
        try:
            limits.check_iterations(args.iterations)
        except RiffgenError as exc:
            raise RiffgenError(f"--iterations: {exc}") from None
    _shared.check_seed("--seed", args.seed)
    decoder = _decoder(args)
    from riffgen.audio import image_to_audio, save_audio
    from riffgen.audio.image import open_image, params_from_image
    from riffgen.audio.io import WRITE_FORMATS
    from riffgen.files import atomic_outputs, check_output_paths, refuse_overwriting_inputs

    out = Path(args.audio)
    if out.suffix.lower() not in WRITE_FORMATS:
        raise RiffgenError(
            f"cannot write {out.suffix or 'files without extension'}: use one of "
            + ", ".join(sorted(WRITE_FORMATS))
        )
    check_output_paths([out])
    refuse_overwriting_inputs([out], [args.image], overwrite=args.overwrite)
    _shared.check_device(args.device)
    image = open_image(args.image)
    params = params_from_image(image)
    if args.iterations is not None:
        params = params.replace(num_griffin_lim_iters=args.iterations)
    bar = _progress(
        params.num_griffin_lim_iters,
        "iterations",
        disable=args.quiet or image.width <= LONG_COLUMNS,
    )

    def on_step(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    samples, sr = image_to_audio(
        image,
        params,
        seed=args.seed,
        device=args.device,
        decoder=decoder,
        progress=on_step,
    )
    bar.close()
    with atomic_outputs([out]) as (tmp,):
        save_audio(tmp, samples, sr)
    print(f"{out}: {samples.shape[1] / sr:.2f} s, {samples.shape[0]} channel(s), {sr} Hz")
    return 0


def _decoder(args: argparse.Namespace) -> str:
    """--decoder, else --algorithm's decoder, else riffgen's default; both must agree."""
    from riffgen.audio.decoders import ALGORITHM_DECODERS, DEFAULT_DECODER

    implied = ALGORITHM_DECODERS[args.algorithm] if args.algorithm else None
    if args.decoder and implied and args.decoder != implied:
        raise RiffgenError(
            f"--algorithm {args.algorithm} is --decoder {implied}, not {args.decoder}: give one"
        )
    return args.decoder or implied or DEFAULT_DECODER


# -- info ------------------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> int:
    from riffgen.audio.image import open_image
    from riffgen.audio.io import audio_info

    path = Path(args.file)
    if not path.exists():
        raise RiffgenError(f"file not found: {path}")
    if not path.is_file():
        raise RiffgenError(f"not a file: {path}")
    try:
        image = open_image(path)
    except RiffgenError:
        image = None
    if image is not None:
        _print_image_info(path, image)
        return 0
    try:
        info = audio_info(path)
    except RiffgenError:
        raise RiffgenError(
            f"{path} is neither an image nor an audio file riffgen can read"
        ) from None
    for key, value in info.items():
        print(f"{key}: {value}")
    return 0


def _print_image_info(path: Path, image: Any) -> None:
    from riffgen.audio.image import params_from_image

    params = params_from_image(image)
    has_exif = bool(image.getexif())
    print(f"file: {path}")
    print("type: spectrogram image" + ("" if has_exif else " (no EXIF: Riffusion defaults)"))
    print(f"size: {image.width}x{image.height} px, mode {image.mode}")
    print(f"duration: {_seconds(params, image.width)}")
    for name, value in params.__dict__.items():
        if name != "num_griffin_lim_iters":
            print(f"{name}: {value}")
    if image.height != params.num_frequencies:
        print(f"note: height {image.height} != {params.num_frequencies} mel bins (resampled)")


# -- helpers ---------------------------------------------------------------------------------


def _seconds(params: SpectrogramParams, width: int) -> str:
    return f"{params.num_samples(width) / params.sample_rate:.2f} s"


def _progress(total: int, unit: str, *, disable: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, disable=disable, leave=False)
