"""Reading a JOBS.jsonl file: one JSON object a line, each checked by a pydantic model of its mode.

Every line is checked before any model loads, and a bad line (invalid JSON, a wrong type, an
out-of-range number, an unknown mode or field, a missing input file, a repeated id) becomes a
:class:`LineError` naming its line number and field, never an exception: the other jobs
still run. Bounds are the CLI's (steps <= 1000, one clip <= 60 s, ...); values that depend
on the model (the width's multiple) are the pipeline's ``check_inputs`` to refuse, per job.

Relative paths in a job (``input``, ``mask``, ``seed_image`` files) are relative to the
folder of the JOBS file, so a JOBS file and its inputs can move together.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from riffgen.audio import limits
from riffgen.audio.decoders import DECODERS
from riffgen.diffusion.types import MAX_CLIP_SECONDS, MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_STEPS

MAX_SEED = 2**63 - 1  # torch generators take a signed 64-bit seed (RiffgenPipeline.MAX_SEED)
MAX_JAM_SECONDS = 6 * 3600.0  # as `riffgen jam`: 16-bit WAV ends at 4 GB
MAX_CLIPS = int(limits.MAX_SECONDS // 5.12)  # interpolation clips joined in one file
MAX_PROMPTS = 1000
MAX_LINE_CHARS = 1_000_000  # a line longer than this is not a job but a mistake

# Output names: a plain file name (no folders, not hidden), so an id cannot write outside -o.
ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$"

Prompt = Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS)]
Text = Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0, le=limits.MAX_SECONDS)]
Hz = Annotated[float, Field(ge=0.0, le=limits.MAX_SAMPLE_RATE / 2)]
PathText = Annotated[str, Field(min_length=1, max_length=4096)]


class _Job(BaseModel):
    """Fields every mode has. Strict: ``"steps": "20"`` or ``"seed": true`` is a wrong type,
    not a conversion; unknown fields are refused (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

    id: Annotated[str, Field(pattern=ID_PATTERN)] | None = None
    format: Literal["wav", "flac", "ogg", "mp3"] = "wav"
    negative_prompt: Text | None = None
    seed: Seed = 0
    # None: the model's default (RunSettings.default_steps), filled in before the job runs or
    # is compared with a finished one (Job.with_default_steps).
    steps: Annotated[int, Field(ge=1, le=MAX_STEPS)] | None = None
    guidance: Annotated[float, Field(ge=0.0, le=MAX_GUIDANCE)] = 7.0
    # How this job's images become audio; None: the batch's --decoder.
    decoder: Literal[DECODERS] | None = None  # type: ignore[valid-type]

    def input_files(self) -> dict[str, str]:
        """Field name -> path of the files this job reads (checked when the JOBS file is read)."""
        return {
            name: getattr(self, name)
            for name in ("input", "mask")
            if getattr(self, name, None) is not None
        }


class _WithInput(_Job):
    """An input clip: ``input`` (audio file or spectrogram image) or ``seed_image``."""

    input: PathText | None = None
    seed_image: PathText | None = None
    offset: Seconds = 0.0
    input_duration: Annotated[float, Field(gt=0.0, le=limits.MAX_SECONDS)] | None = None

    @model_validator(mode="after")
    def _one_input(self) -> _WithInput:
        if (self.input is None) == (self.seed_image is None):
            raise ValueError("give exactly one of input, seed_image")
        return self


class GenerateJob(_Job):
    mode: Literal["generate"] = "generate"
    prompt: Prompt
    duration: Annotated[float, Field(gt=0.0, le=MAX_CLIP_SECONDS)] | None = None
    width: Annotated[int, Field(ge=1, le=limits.MAX_COLUMNS)] | None = None
    seed_image: PathText | None = None
    denoising: Unit = 0.75
    loop: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> GenerateJob:
        if self.duration is not None and self.width is not None:
            raise ValueError("give duration or width, not both")
        if self.loop and self.seed_image is not None:
            raise ValueError("loop makes a clip from text: it cannot start from seed_image")
        return self


class TransformJob(_WithInput):
    mode: Literal["transform"]
    prompt: Prompt
    then: Annotated[list[Prompt], Field(max_length=MAX_PROMPTS)] = []
    denoising: Unit = 0.75


class InpaintJob(_WithInput):
    mode: Literal["inpaint"]
    prompt: Prompt
    start: Seconds | None = None
    end: Seconds | None = None
    min_hz: Hz | None = None
    max_hz: Hz | None = None
    mask: PathText | None = None
    denoising: Unit = 1.0

    @model_validator(mode="after")
    def _region(self) -> InpaintJob:
        ranges = (self.start, self.end, self.min_hz, self.max_hz)
        if self.mask is None and all(v is None for v in ranges):
            raise ValueError("inpaint needs start/end, min_hz/max_hz or mask")
        if self.mask is not None and any(v is not None for v in ranges):
            raise ValueError("give either mask or a time/frequency range, not both")
        return self


class InterpolateJob(_Job):
    mode: Literal["interpolate"]
    prompt_a: Prompt
    prompt_b: Prompt
    seed_a: Seed | None = None  # default: seed
    seed_b: Seed | None = None  # default: seed_a + 1
    clips: Annotated[int, Field(ge=1, le=MAX_CLIPS)] = 5
    denoising: Unit = 0.75
    mask: PathText | None = None
    seed_image: PathText = "og_beat"


class JamJob(_Job):
    mode: Literal["jam"]
    format: Literal["wav", "flac", "ogg"] = "wav"  # a jam streams to disk: not MP3
    prompts: Annotated[list[Prompt], Field(min_length=1, max_length=MAX_PROMPTS)]
    duration: Annotated[float, Field(gt=0.0, le=MAX_JAM_SECONDS)]
    seed_image: PathText | None = None
    bpm: Annotated[float, Field(ge=20.0, le=400.0)] | None = None
    denoising: Unit = 0.75
    crossfade_ms: Annotated[float, Field(ge=0.0, le=1000.0)] = 40.0


AnyJob = GenerateJob | TransformJob | InpaintJob | InterpolateJob | JamJob
MODES: dict[str, type[AnyJob]] = {
    "generate": GenerateJob,
    "transform": TransformJob,
    "inpaint": InpaintJob,
    "interpolate": InterpolateJob,
    "jam": JamJob,
}


@dataclass(frozen=True)
class Job:
    """One valid line. ``spec`` holds the values as written (recorded in the sidecar, so a
    result does not depend on where the JOBS file lies); ``files`` the same input fields as
    absolute paths, which the runner reads."""

    line: int
    id: str
    spec: AnyJob
    files: dict[str, str]

    @property
    def mode(self) -> str:
        return self.spec.mode

    def record(self) -> dict[str, Any]:
        """The job with every default filled in: what a finished clip's sidecar stores.

        A ``decoder`` left unset is not recorded (the batch's, in the model record, decides).
        """
        spec = self.spec.model_dump(mode="json")
        if spec.get("decoder") is None:
            spec.pop("decoder", None)
        return {"mode": self.mode, **spec}

    def with_default_steps(self, steps: int) -> Job:
        """The job with ``steps`` (the model's default) where it names none: what it runs and
        what its sidecar records, so a rerun with the same model finds it done."""
        if self.spec.steps is not None:
            return self
        return replace(self, spec=self.spec.model_copy(update={"steps": steps}))

    def to_json(self) -> str:
        """The job as text, for another process (a Ray actor): :meth:`from_json` reads it."""
        return json.dumps({"line": self.line, "id": self.id, "spec": self.record(),
                           "files": self.files})  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> Job:
        data = json.loads(text)
        spec = MODES[data["spec"]["mode"]].model_validate(data["spec"])
        return cls(line=data["line"], id=data["id"], spec=spec, files=data["files"])


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _validation_message(exc: ValidationError) -> str:
    """pydantic's errors as one line: ``steps: Input should be ... (got 5000)``."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        got = f" (got {_show(err['input'])})" if err["type"] != "missing" and where else ""
        parts.append(f"{where}: {msg}{got}" if where else msg)
    return "; ".join(parts)


def _is_seed_name(value: str) -> bool:
    from riffgen.endless.seeds import get_seed_image

    try:
        get_seed_image(value, allow_path=False)
    except Exception:
        return False
    return True


def _resolve(field: str, value: str, base: Path, *, seed_name_ok: bool) -> str | None:
    """The absolute path of an input file (relative to ``base``), or None for a seed image name;
    raises ValueError naming the field when neither exists."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base / path
    if path.is_file():
        return str(path.resolve())
    if seed_name_ok and _is_seed_name(value):
        return None
    what = "file not found" if not path.exists() else "not a file"
    hint = " (and not a seed image name)" if seed_name_ok else ""
    raise ValueError(f"{field}: {what}: {value}{hint}")


def parse_line(text: str, line: int, base: Path) -> Job:
    """One line -> :class:`Job`; raises ValueError with a one-line message."""
    if len(text) > MAX_LINE_CHARS:
        raise ValueError(f"line is {len(text)} characters long: at most {MAX_LINE_CHARS}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(data, dict):
        raise ValueError(f"a job is a JSON object, got {type(data).__name__}")
    mode = data.get("mode", "generate")
    model = MODES.get(mode) if isinstance(mode, str) else None
    if model is None:
        raise ValueError(f"mode: unknown mode {_show(mode)} (one of {', '.join(MODES)})")
    try:
        spec = model.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_validation_message(exc)) from None
    files = {
        name: path
        for name, value in spec.input_files().items()
        if (path := _resolve(name, value, base, seed_name_ok=False)) is not None
    }
    seed_image = getattr(spec, "seed_image", None)
    if seed_image is not None:
        path = _resolve("seed_image", seed_image, base, seed_name_ok=True)
        if path is not None:
            files["seed_image"] = path
    return Job(line=line, id=spec.id or str(line), spec=spec, files=files)


def read_jobs(path: str | os.PathLike[str]) -> tuple[list[Job], list[LineError]]:
    """Every line of ``path`` (1-based numbers; blank lines skipped): the valid jobs, in order,
    and the bad lines. Raises OSError only when the file itself cannot be read."""
    path = Path(path)
    base = path.resolve().parent
    jobs: list[Job] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                job = parse_line(text, number, base)
            except ValueError as exc:
                errors.append(LineError(number, str(exc)))
                continue
            # Case-folded: out.wav and OUT.wav are one file on macOS and Windows.
            key = job.id.casefold()
            if key in seen:
                errors.append(LineError(number, f"id: {job.id!r} is already line {seen[key]}'s"))
                continue
            seen[key] = number
            jobs.append(job)
    return jobs, errors
