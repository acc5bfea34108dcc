"""What a generating run puts out: OUT (audio), OUT.png and OUT.json together, and a quiet
stderr (riffgen's own progress bar and errors, no library chatter).

Used by the ``riffgen`` commands and by ``python -m riffgen.demo``; nothing here parses
arguments.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riffgen.errors import RiffgenError
from riffgen.files import atomic_outputs

if TYPE_CHECKING:
    from riffgen.diffusion.types import RiffgenOutput

# Libraries whose import-time and load-time notices are not the user's business.
_NOISY = ("transformers", "diffusers", "torchvision", "huggingface_hub", "accelerate")


def output_paths(output: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    """OUT.wav -> (OUT.wav, OUT.png, OUT.json); raises for an unknown audio extension."""
    from riffgen.audio.io import WRITE_FORMATS

    audio = Path(output)
    if audio.suffix.lower() not in WRITE_FORMATS:
        raise RiffgenError(f"output {audio} must end in one of {', '.join(sorted(WRITE_FORMATS))}")
    return audio, audio.with_suffix(".png"), audio.with_suffix(".json")


def write_result(
    output: str | os.PathLike[str], result: RiffgenOutput, sidecar: dict[str, Any]
) -> tuple[Path, Path, Path]:
    """Write the audio, OUT.png and OUT.json (``sidecar`` plus an ``output`` summary) as one
    set: all three appear, or none does."""
    from riffgen.audio import save_audio
    from riffgen.serialize import to_jsonable

    paths = output_paths(output)
    audio_path, image_path, _ = paths
    sidecar = {
        **sidecar,
        "output": {
            "audio": audio_path.name,
            "image": image_path.name,
            "sample_rate": result.sample_rate,
            "channels": int(result.audio.shape[0]),
            "duration_s": round(result.duration_s, 6),
        },
    }
    with atomic_outputs(paths) as (tmp_audio, tmp_image, tmp_json):
        save_audio(tmp_audio, result.audio, result.sample_rate)
        exif = result.image.info.get("exif")
        result.image.save(tmp_image, format="PNG", **({"exif": exif} if exif else {}))
        tmp_json.write_text(json.dumps(to_jsonable(sidecar), indent=2) + "\n")
    return paths


def quiet_libraries(*, verbose: bool = False) -> None:
    """Keep stderr for riffgen's own bar and errors: no library progress bars or notices.

    Call before the model libraries are imported: some of their notices (transformers on
    torchvision and image processors) are printed at import, which only the environment
    variables reach. ``verbose`` leaves the libraries as they are.
    """
    if verbose:
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    for module in _NOISY:
        warnings.filterwarnings("ignore", module=rf"{module}(\.|$)")
    import transformers
    from diffusers.utils import logging as diffusers_logging

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
