"""The jam engine: endless music from a seed image and a changing list of prompts.

One engine serves the CLI (offline render), the server (live stream) and the web app::

    engine = JamEngine(pipeline_clip_maker(pipe, num_inference_steps=30),
                       ["lo-fi beat", JamPrompt("jazz piano", duration_s=30)],
                       seed_image=get_seed_image("beat_100"))
    for clip in engine.clips():          # endless; engine.stop() or max_clips ends it
        play(clip.audio, clip.sample_rate)   # consecutive segments, already crossfaded
        engine.queue_prompt("techno")        # safe from another thread, too
    play(engine.finish())                # the last crossfade tail, faded out

A *clip maker* is any callable ``(start, end, alpha, init_image, mask_image) -> RiffgenOutput``
(the signature of ``RiffgenPipeline.interpolate``), so tests and the server can substitute it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from PIL import Image

from riffgen.audio.image import params_from_image
from riffgen.audio.params import SpectrogramParams
from riffgen.diffusion.types import PromptInput, RiffgenOutput
from riffgen.endless.schedule import ClipSpec, JamPrompt, JamSchedule
from riffgen.endless.seeds import SeedImage, get_seed_image
from riffgen.endless.stitch import Stitcher, loop_period
from riffgen.errors import RiffgenError
from riffgen.serialize import jsonable_only, to_jsonable


class ClipMaker(Protocol):
    """Makes one clip; the shape of ``RiffgenPipeline.interpolate``."""

    def __call__(
        self,
        start: PromptInput,
        end: PromptInput,
        alpha: float,
        init_image: Image.Image,
        mask_image: Image.Image | None,
    ) -> RiffgenOutput: ...


def pipeline_clip_maker(
    pipe: Any,
    *,
    num_inference_steps: int | None = None,
    callback: Any = None,
    decoder: str | None = None,
) -> ClipMaker:
    """A :class:`ClipMaker` that renders with ``pipe.interpolate`` (a ``RiffgenPipeline``),
    its images decoded with ``decoder`` (None: the pipeline's own, ``pipe.decoder``), in
    ``num_inference_steps`` steps (None: the model's, ``pipe.default_steps``)."""
    from riffgen.diffusion.pipeline import decoding
    from riffgen.diffusion.types import steps_for

    num_inference_steps = steps_for(pipe, num_inference_steps)

    def make(
        start: PromptInput,
        end: PromptInput,
        alpha: float,
        init_image: Image.Image,
        mask_image: Image.Image | None,
    ) -> RiffgenOutput:
        with decoding(pipe, decoder):
            return pipe.interpolate(
                start,
                end,
                alpha,
                init_image=init_image,
                mask_image=mask_image,
                num_inference_steps=num_inference_steps,
                callback=callback,
            )

    return make


@dataclass(frozen=True)
class JamConfig:
    """How a jam sounds. ``seed`` is the first diffusion seed; ``crossfade_ms`` the seam length;
    ``bpm`` overrides the seed image's tempo (``align_to_beat=False`` ignores tempo altogether).
    ``match_levels`` plays every clip at the stream's level (a running gain, see
    :class:`~riffgen.endless.stitch.LevelMatcher`): each clip was peak-normalised on its own,
    and without it the stream steps in level at the joins."""

    seed: int = 0
    denoising: float = 0.75
    guidance: float = 7.0
    negative_prompt: str | None = None
    alpha_step: float = 0.25
    crossfade_ms: float = 40.0
    bpm: float | None = None
    align_to_beat: bool = True
    match_levels: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.denoising <= 1.0:
            raise RiffgenError(f"denoising must be in [0, 1], got {self.denoising}")
        if not 0.0 <= self.crossfade_ms <= 1000.0:
            raise RiffgenError(f"crossfade must be 0-1000 ms, got {self.crossfade_ms}")
        if self.bpm is not None and not 20 <= self.bpm <= 400:
            raise RiffgenError(f"bpm must be 20-400, got {self.bpm}")


@dataclass
class JamClip:
    """One rendered clip and its place in the stream.

    ``audio`` ``[channels, n]`` is the clip's stretch of the stream (already crossfaded with the
    previous clip; consecutive clips' ``audio`` concatenate to the whole stream), starting at
    sample ``stream_start``. ``output`` is the raw pipeline result (full clip audio and image).
    """

    index: int
    start: PromptInput
    end: PromptInput
    alpha: float
    transition: bool
    prompt_index: int
    audio: np.ndarray
    sample_rate: int
    stream_start: int
    output: RiffgenOutput
    seed_image: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def image(self) -> Image.Image:
        return self.output.image

    @property
    def start_s(self) -> float:
        return self.stream_start / self.sample_rate

    @property
    def duration_s(self) -> float:
        return self.audio.shape[-1] / self.sample_rate

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (no audio or image), enough to re-render the clip."""
        return to_jsonable(
            {
                "index": self.index,
                "start_s": round(self.start_s, 6),
                "duration_s": round(self.duration_s, 6),
                "alpha": self.alpha,
                "transition": self.transition,
                "prompt_index": self.prompt_index,
                "start": self.start,
                "end": self.end,
                "seed_image": self.seed_image,
                "parameters": jsonable_only(self.output.parameters),
                **self.extra,
            }
        )


class JamEngine:
    """Endless clip generator on the original app's schedule, with seamless joins."""

    def __init__(
        self,
        clip_maker: ClipMaker,
        prompts: Sequence[JamPrompt | PromptInput | str],
        *,
        seed_image: SeedImage | Image.Image | str = "beat_100",
        config: JamConfig | None = None,
        mask_image: Image.Image | None = None,
    ) -> None:
        self.config = config or JamConfig()
        if isinstance(seed_image, str):
            seed_image = get_seed_image(seed_image, allow_path=False)
        if isinstance(seed_image, Image.Image):
            seed_image = SeedImage.from_image(seed_image)
        self.seed = seed_image
        self.clip_maker = clip_maker
        self.mask_image = mask_image
        self.params: SpectrogramParams = params_from_image(seed_image.image)
        self.sample_rate = self.params.sample_rate
        self.clip_samples = self.params.num_samples(seed_image.image.width)
        self.crossfade_samples = int(round(self.config.crossfade_ms / 1000 * self.sample_rate))
        bpm = (self.config.bpm or seed_image.bpm) if self.config.align_to_beat else None
        self.bpm = bpm
        self.period = loop_period(
            self.clip_samples,
            self.crossfade_samples,
            sample_rate=self.sample_rate,
            bpm=bpm,
            loop_beats=seed_image.loop_beats,
        )
        self.schedule = JamSchedule(
            prompts,
            clip_seconds=self.period / self.sample_rate,
            seed=self.config.seed,
            alpha_step=self.config.alpha_step,
            denoising=self.config.denoising,
            guidance=self.config.guidance,
            negative_prompt=self.config.negative_prompt,
        )
        self.stitcher = Stitcher(
            period=self.period,
            crossfade=self.crossfade_samples,
            match_levels=self.config.match_levels,
        )
        self._stop = threading.Event()

    # ------------------------------------------------------------------ control while running
    def queue_prompt(self, prompt: JamPrompt | PromptInput | str) -> None:
        """Play ``prompt`` after the prompts already waiting (thread-safe)."""
        self.schedule.queue_prompt(prompt)

    def set_prompt(self, prompt: JamPrompt | PromptInput | str) -> None:
        """Replace the waiting prompts with ``prompt``; it starts at the next cycle (thread-safe)."""
        self.schedule.set_prompt(prompt)

    def stop(self) -> None:
        """End :meth:`clips` after the clip in progress (thread-safe)."""
        self._stop.set()

    @property
    def samples_out(self) -> int:
        return self.stitcher.samples_out

    # ------------------------------------------------------------------------------ generating
    def render_spec(self, spec: ClipSpec) -> RiffgenOutput:
        out = self.clip_maker(spec.start, spec.end, spec.alpha, self.seed.image, self.mask_image)
        if out.sample_rate != self.sample_rate:
            raise RiffgenError(
                f"clip sample rate {out.sample_rate} Hz differs from the seed image's {self.sample_rate} Hz"
            )
        return out

    def clips(self, max_clips: int | None = None) -> Iterator[JamClip]:
        """Yield clips without end (until :meth:`stop` or ``max_clips``)."""
        made = 0
        while not self._stop.is_set() and (max_clips is None or made < max_clips):
            spec = self.schedule.next_spec()
            out = self.render_spec(spec)
            stream_start = self.stitcher.samples_out
            segment = self.stitcher.push(out.audio)
            extra = {}
            if self.stitcher.gains:  # the clip's level-matching gain, for the log
                extra["gain_db"] = round(20 * float(np.log10(self.stitcher.gains[-1])), 2)
            made += 1
            yield JamClip(
                index=spec.index,
                start=spec.start,
                end=spec.end,
                alpha=spec.alpha,
                transition=spec.transition,
                prompt_index=spec.prompt_index,
                audio=segment,
                sample_rate=self.sample_rate,
                stream_start=stream_start,
                output=out,
                seed_image=self.seed.name,
                extra=extra,
            )

    def finish(self, *, fade_ms: float | None = None) -> np.ndarray:
        """The last held-back samples (``crossfade_ms`` long), faded out; ends the stream."""
        fade = None if fade_ms is None else int(round(fade_ms / 1000 * self.sample_rate))
        return self.stitcher.finish(fade_samples=fade)
