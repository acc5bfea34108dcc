"""Running batch jobs: one job -> its audio, PNG and JSON sidecar; the local loop; the report.

The same :func:`run_one` runs every job, locally or in a Ray actor, so both write the same
bytes. A job's three outputs are renamed into place together (:mod:`riffgen.files`), the
sidecar last, and a rerun skips a job whose sidecar records the same job and model: after a
crash or Ctrl-C the batch resumes where it stopped, and an edited line is made again.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from riffgen.audio.decoders import DEFAULT_DECODER
from riffgen.batch.jobs import (
    GenerateJob,
    InpaintJob,
    InterpolateJob,
    JamJob,
    Job,
    TransformJob,
    read_jobs,
)
from riffgen.errors import RiffgenError

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from riffgen.diffusion.types import RiffgenOutput

Status = Literal["done", "skipped", "failed"]


@dataclass(frozen=True)
class RunSettings:
    """How every job's pipeline is made: picklable, sent once to each Ray actor.

    ``threads``: torch's CPU threads for the model (None: torch's default). On a CPU the last
    bits of a result depend on it (how sums are split between threads), so runs that must
    write the same bytes use the same number. ``loader`` (tests, benchmarks) replaces
    :func:`riffgen.diffusion.load_pipeline`: any picklable zero-argument callable that
    returns a pipeline, e.g. ``functools.partial(FakePipeline, step_s=0.01)``.
    """

    model: str
    device: str | None = None
    dtype: str | None = None
    lora: str | None = None
    lora_scale: float = 1.0
    scheduler: str = "pndm"
    threads: int | None = None
    loader: Callable[[], Any] | None = None
    decoder: str = DEFAULT_DECODER  # the jobs' decoder unless a job names its own

    def __post_init__(self) -> None:
        from riffgen.audio.decoders import check_decoder

        check_decoder(self.decoder)
        # Paths made absolute here, in the driver: a Ray worker may run in another folder.
        from riffgen.models.registry import BUILT_IN

        if self.model not in BUILT_IN and Path(self.model).expanduser().exists():
            object.__setattr__(self, "model", str(Path(self.model).expanduser().resolve()))
        if self.lora is not None:
            object.__setattr__(self, "lora", str(Path(self.lora).resolve()))

    def load(self) -> Any:
        if self.loader is not None:
            return self.loader()
        from riffgen.diffusion import load_pipeline

        if self.model != "fake":  # the stand-in imports neither model library
            from riffgen.outputs import quiet_libraries

            quiet_libraries()
        return load_pipeline(
            self.model,
            device=self.device,
            dtype=self.dtype,
            lora=self.lora,
            lora_scale=self.lora_scale,
            scheduler=self.scheduler,
        )

    def default_steps(self) -> int:
        """The steps of a job that names none: the model's recommended number (its
        ``riffgen.json`` "defaults"; mini: 20), else 50. Read without loading the model, so
        the driver fills it in before comparing jobs with finished ones."""
        from riffgen.diffusion.types import DEFAULT_STEPS
        from riffgen.models.registry import model_defaults_of

        return int(model_defaults_of(self.model).get("steps", DEFAULT_STEPS))

    def record(self) -> dict[str, Any]:
        """What decides the bytes besides the job (in the sidecar; a change re-makes jobs)."""
        return {
            "name": self.model,
            "lora": self.lora,
            "lora_scale": self.lora_scale,
            "scheduler": self.scheduler,
            "decoder": self.decoder,
        }


@dataclass(frozen=True)
class JobResult:
    line: int
    id: str | None
    status: Status
    error: str | None = None
    seconds: float = 0.0
    worker: int | None = None  # the process that ran it (os.getpid())

    def describe(self) -> str:
        name = f" ({self.id})" if self.id and self.id != str(self.line) else ""
        return f"line {self.line}{name}: {self.error}"


# ---------------------------------------------------------------------------- outputs


def output_paths(job: Job, out_dir: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    """``DIR/ID.wav``, ``DIR/ID.png``, ``DIR/ID.json``."""
    from riffgen.outputs import output_paths as paths

    return paths(Path(out_dir) / f"{job.id}.{job.spec.format}")


def sidecar_header(job: Job, settings: RunSettings) -> dict[str, Any]:
    from riffgen import __version__

    return {
        "riffgen_version": __version__,
        "command": "batch",
        "mode": job.mode,
        "id": job.id,
        "line": job.line,
        "model": settings.record(),
        "job": job.record(),
    }


def is_done(job: Job, out_dir: str | os.PathLike[str], settings: RunSettings) -> bool:
    """The job's outputs are all there and its sidecar records this very job and model."""
    paths = output_paths(job, out_dir)
    if not all(p.is_file() for p in paths):
        return False
    try:
        sidecar = json.loads(paths[2].read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(sidecar, dict)
        and sidecar.get("job") == job.record()
        and sidecar.get("model") == settings.record()
    )


# ---------------------------------------------------------------------------- inputs


def _seed_image(job: Job) -> Image.Image:
    """A seed image by name (og_beat, beat_120, ...) or the job's image file."""
    from riffgen.audio.image import open_image
    from riffgen.endless.seeds import get_seed_image

    if "seed_image" in job.files:
        return open_image(job.files["seed_image"])
    return get_seed_image(job.spec.seed_image, allow_path=False).image


@dataclass
class _Clip:
    """An input clip: a spectrogram image, or audio samples at ``sample_rate``."""

    image: Image.Image | None = None
    audio: np.ndarray | None = None
    sample_rate: int | None = None


_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def _read_clip(job: Job) -> _Clip:
    from riffgen.audio import limits, load_audio
    from riffgen.audio.image import open_image

    spec = job.spec
    assert isinstance(spec, TransformJob | InpaintJob)
    if spec.input is None:
        return _Clip(image=_seed_image(job))
    path = job.files["input"]
    if Path(path).suffix.lower() in _IMAGE_SUFFIXES:
        return _Clip(image=open_image(path))
    audio, sr = load_audio(path, start=spec.offset, duration=spec.input_duration)
    limits.check_duration(audio.shape[-1] / sr, what="the input audio")
    return _Clip(audio=audio, sample_rate=sr)


def _mask(job: Job) -> Image.Image | None:
    from riffgen.audio.image import open_image

    return open_image(job.files["mask"]) if "mask" in job.files else None


def _check(
    pipe: Any, spec: Any, *, prompt: str, seeds: list[int] | None = None, **values: Any
) -> None:
    """The pipeline's own checks (width multiple, ...) before any work; the fake has none."""
    check = getattr(pipe, "check_inputs", None)
    if check is not None:
        check(
            prompt=prompt,
            negative_prompt=spec.negative_prompt,
            seeds=seeds or [spec.seed],
            steps=spec.steps,
            guidance=spec.guidance,
            **values,
        )


def _common(spec: Any) -> dict[str, Any]:
    """The arguments every pipeline call but ``interpolate`` takes from a job."""
    return {
        "negative_prompt": spec.negative_prompt,
        "seed": spec.seed,
        "num_inference_steps": spec.steps,
        "guidance": spec.guidance,
    }


# ---------------------------------------------------------------------------- one job per mode


def _generate(pipe: Any, job: Job, spec: GenerateJob) -> RiffgenOutput:
    seed_image = _seed_image(job) if spec.seed_image is not None else None
    denoising = spec.denoising if seed_image is not None else None
    _check(pipe, spec, prompt=spec.prompt, width=spec.width, denoising=denoising)
    if seed_image is not None:
        return pipe.audio_to_audio(
            spec.prompt, init_image=seed_image, denoising=spec.denoising, **_common(spec)
        )
    size = {"width": spec.width or 512, "duration_s": spec.duration}
    if spec.loop:
        from riffgen.endless.loop import make_loop

        return make_loop(pipe, spec.prompt, **_common(spec), **size)
    return pipe.text_to_audio(spec.prompt, **_common(spec), **size)


def _transform(pipe: Any, job: Job, spec: TransformJob) -> RiffgenOutput:
    clip = _read_clip(job)
    _check(pipe, spec, prompt=spec.prompt, denoising=spec.denoising)
    if spec.then and clip.audio is None:
        raise RiffgenError("then needs an audio input (a song to move through prompts)")
    if clip.audio is not None and (spec.then or _longer_than_a_clip(pipe, clip)):
        return _transform_long(pipe, clip, spec)
    return pipe.audio_to_audio(
        spec.prompt,
        init_image=clip.image,
        init_audio=clip.audio,
        sample_rate=clip.sample_rate,
        denoising=spec.denoising,
        **_common(spec),
    )


def _longer_than_a_clip(pipe: Any, clip: _Clip) -> bool:
    params = pipe.spectrogram_params
    seconds = clip.audio.shape[-1] / clip.sample_rate
    return seconds > params.num_samples(512) / params.sample_rate + 0.05


def _transform_long(pipe: Any, clip: _Clip, spec: TransformJob) -> RiffgenOutput:
    """Whole-song transform, as `riffgen transform` does for input longer than a clip."""
    from riffgen.audio import audio_to_image
    from riffgen.diffusion.types import RiffgenOutput
    from riffgen.endless.transform import transform_long

    prompts = [spec.prompt, *spec.then]
    audio, sr = transform_long(
        pipe,
        clip.audio,
        clip.sample_rate,
        prompts,
        denoising=spec.denoising,
        guidance=spec.guidance,
        seed=spec.seed,
        negative_prompt=spec.negative_prompt,
        num_inference_steps=spec.steps,
    )
    parameters = {
        "mode": "audio_to_audio_long",
        "prompts": prompts,
        "denoising": spec.denoising,
        "guidance": spec.guidance,
        "seed": spec.seed,
        "negative_prompt": spec.negative_prompt,
        "num_inference_steps": spec.steps,
    }
    image = audio_to_image(audio, sr, pipe.spectrogram_params)
    return RiffgenOutput(audio=audio, sample_rate=sr, image=image, parameters=parameters)


def _inpaint(pipe: Any, job: Job, spec: InpaintJob) -> RiffgenOutput:
    clip, mask = _read_clip(job), _mask(job)
    _check(pipe, spec, prompt=spec.prompt, denoising=spec.denoising)
    return pipe.inpaint(
        spec.prompt,
        init_image=clip.image,
        init_audio=clip.audio,
        sample_rate=clip.sample_rate,
        mask_image=mask,
        start_s=spec.start,
        end_s=spec.end,
        min_hz=spec.min_hz,
        max_hz=spec.max_hz,
        denoising=spec.denoising,
        **_common(spec),
    )


def _interpolate(pipe: Any, job: Job, spec: InterpolateJob) -> RiffgenOutput:
    from riffgen.diffusion.types import PromptInput

    seed_a = spec.seed if spec.seed_a is None else spec.seed_a
    seed_b = seed_a + 1 if spec.seed_b is None else spec.seed_b
    seed_image, mask = _seed_image(job), _mask(job)
    _check(pipe, spec, prompt=spec.prompt_a, seeds=[seed_a, seed_b], denoising=spec.denoising)
    start = PromptInput(spec.prompt_a, seed_a, spec.negative_prompt, spec.denoising, spec.guidance)
    end = PromptInput(spec.prompt_b, seed_b, spec.negative_prompt, spec.denoising, spec.guidance)
    alphas = [0.0] if spec.clips == 1 else [i / (spec.clips - 1) for i in range(spec.clips)]
    results = [
        pipe.interpolate(
            start,
            end,
            alpha,
            init_image=seed_image,
            mask_image=mask,
            num_inference_steps=spec.steps,
        )
        for alpha in alphas
    ]
    return _join_clips(results)


def _join_clips(results: list[RiffgenOutput]) -> RiffgenOutput:
    """Clips one after another, as `riffgen interpolate` joins them (the same function)."""
    from riffgen.endless.stitch import join_outputs

    return join_outputs(results)


def _jam(pipe: Any, job: Job, spec: JamJob, paths: tuple[Path, Path, Path], header: dict) -> None:
    """A jam streams its audio, stitched spectrogram and clip log into the three temporaries
    (memory stays flat however long it is); they are renamed into place when it ends."""
    from riffgen.endless.engine import JamConfig, JamEngine, pipeline_clip_maker
    from riffgen.endless.render import render_jam
    from riffgen.endless.schedule import JamPrompt, parse_prompt
    from riffgen.endless.seeds import SeedImage, get_seed_image
    from riffgen.files import atomic_outputs

    if "seed_image" in job.files:
        seed = SeedImage.from_file(job.files["seed_image"], bpm=spec.bpm)
    else:
        seed = get_seed_image(spec.seed_image, bpm=spec.bpm, allow_path=False)
    _check(pipe, spec, prompt=spec.prompts[0], denoising=spec.denoising)
    prompts = [parse_prompt(p) for p in spec.prompts]
    free = [p for p in prompts if p.duration_s is None]
    if free:  # prompts without ":SECONDS" share what is left evenly, as in `riffgen jam`
        share = max(spec.duration - sum(p.duration_s or 0.0 for p in prompts), 0.0) / len(free)
        prompts = [
            p if p.duration_s is not None else JamPrompt(p.prompt, duration_s=share or None)
            for p in prompts
        ]
    config = JamConfig(
        seed=spec.seed,
        denoising=spec.denoising,
        guidance=spec.guidance,
        negative_prompt=spec.negative_prompt,
        crossfade_ms=spec.crossfade_ms,
    )
    maker = pipeline_clip_maker(pipe, num_inference_steps=spec.steps)
    engine = JamEngine(maker, prompts, seed_image=seed, config=config)
    with atomic_outputs(paths) as (audio, image, log):
        result = render_jam(
            engine,
            audio,
            duration_s=spec.duration,
            image_path=image,
            log_path=log,
            header={**header, "seed_image": seed.name, "bpm": engine.bpm},
        )
        if result.interrupted:  # render_jam keeps a shorter jam; a batch job is whole or redone
            raise KeyboardInterrupt


_MODES: dict[type, Callable[[Any, Job, Any], RiffgenOutput]] = {
    GenerateJob: _generate,
    TransformJob: _transform,
    InpaintJob: _inpaint,
    InterpolateJob: _interpolate,
}


def run_job(pipe: Any, job: Job, out_dir: str | os.PathLike[str], settings: RunSettings) -> None:
    """Make one job and write its three outputs together; raises on any failure (then no
    output of the job changes)."""
    from riffgen.diffusion.pipeline import decoding
    from riffgen.files import check_output_paths
    from riffgen.outputs import write_result

    paths = output_paths(job, out_dir)
    check_output_paths(paths)
    header = sidecar_header(job, settings)
    with decoding(pipe, job.spec.decoder or settings.decoder):
        if isinstance(job.spec, JamJob):
            _jam(pipe, job, job.spec, paths, header)
            return
        result = _MODES[type(job.spec)](pipe, job, job.spec)
    write_result(paths[0], result, {**header, "parameters": result.parameters})


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, RiffgenError | ValueError | OSError):
        return text
    return f"{type(exc).__name__}: {text}"  # an unexpected error: say what kind


def run_one(
    pipe: Any, job: Job, out_dir: str | os.PathLike[str], settings: RunSettings
) -> JobResult:
    """:func:`run_job` as a result: a failing job never stops the batch (Ctrl-C does)."""
    from riffgen.diffusion.types import steps_for

    start = time.perf_counter()
    job = job.with_default_steps(steps_for(pipe, None))  # run_batch has filled it in already
    if is_done(job, out_dir, settings):  # e.g. a Ray task retried after its actor died
        return JobResult(job.line, job.id, "skipped", worker=os.getpid())
    try:
        run_job(pipe, job, out_dir, settings)
    except Exception as exc:
        status, error = "failed", _one_line(exc)
    else:
        status, error = "done", None
    return JobResult(job.line, job.id, status, error, time.perf_counter() - start, os.getpid())


def run_local(
    jobs: list[Job], out_dir: str | os.PathLike[str], settings: RunSettings
) -> Iterator[JobResult]:
    """Every job in this process, in order, with one pipeline (loaded only if needed)."""
    if not jobs:
        return
    with torch_threads(settings.threads):
        pipe = settings.load()
        for job in jobs:
            yield run_one(pipe, job, out_dir, settings)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``threads`` for the block (None: left as they are)."""
    if threads is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# ---------------------------------------------------------------------------- the batch


Runner = Callable[[list[Job], Path, RunSettings], Iterable[JobResult]]


@dataclass
class BatchReport:
    """Every line's result (sorted by line number) and whether Ctrl-C ended the run."""

    total: int = 0
    results: list[JobResult] = field(default_factory=list)
    interrupted: KeyboardInterrupt | None = None

    def count(self, status: Status) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def summary(self) -> str:
        failed = [str(r.line) for r in self.failed]
        text = (
            f"batch: {self.total} jobs: {self.count('done')} done, "
            f"{self.count('skipped')} already done, {len(failed)} failed"
        )
        if failed:
            more = ", ..." if len(failed) > 20 else ""
            text += f" (line{'s' if len(failed) > 1 else ''} {', '.join(failed[:20])}{more})"
        if self.interrupted is not None:
            text += f"; interrupted, {self.total - len(self.results)} not finished: run it again"
        return text


def run_batch(
    jobs_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    settings: RunSettings,
    *,
    runner: Runner = run_local,
    quiet: bool = False,
) -> BatchReport:
    """Read, check and run every job of ``jobs_path`` into ``out_dir``.

    Bad lines and failed jobs are printed on stderr as they happen and counted in the
    report; jobs already done are skipped. Ctrl-C ends the run with the report (its
    ``interrupted`` set): finished clips stay, the one in progress leaves nothing.
    """
    from tqdm import tqdm

    out = Path(out_dir).resolve()  # absolute: Ray workers may run in another folder
    if out.exists() and not out.is_dir():
        raise RiffgenError(f"output folder {out} is a file")
    jobs, bad_lines = read_jobs(jobs_path)
    if any(job.spec.steps is None for job in jobs):  # the model's default, before is_done
        steps = settings.default_steps()
        jobs = [job.with_default_steps(steps) for job in jobs]
    report = BatchReport(total=len(jobs) + len(bad_lines))
    pending = []
    for job in jobs:
        if is_done(job, out, settings):
            report.results.append(JobResult(job.line, job.id, "skipped"))
        else:
            pending.append(job)
    total = report.total
    with tqdm(total=total, desc="batch", unit="job", file=sys.stderr, disable=quiet) as bar:
        for error in bad_lines:
            bar.write(f"riffgen: {error}", file=sys.stderr)
            report.results.append(JobResult(error.line, None, "failed", error.message))
        bar.update(total - len(pending))
        if pending:
            out.mkdir(parents=True, exist_ok=True)
        try:
            for result in runner(pending, out, settings):
                report.results.append(result)
                if result.status == "failed":
                    bar.write(f"riffgen: {result.describe()}", file=sys.stderr)
                bar.update(1)
        except KeyboardInterrupt as exc:
            report.interrupted = exc
        else:
            # A job with no result was lost with its worker (Ray gave up retrying it).
            answered = {r.line for r in report.results}
            for job in pending:
                if job.line not in answered:
                    lost = JobResult(job.line, job.id, "failed", "lost: its worker died")
                    report.results.append(lost)
                    bar.write(f"riffgen: {lost.describe()}", file=sys.stderr)
    report.results.sort(key=lambda r: r.line)
    return report
