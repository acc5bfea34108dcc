"""What runs on the worker thread: a pipeline call followed by encoding of its output."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from riffgen.diffusion.types import RiffgenOutput
from riffgen.serialize import jsonable_only
from riffgen.server.codecs import AudioFormat, encode_audio, encode_image

PipelineCall = Callable[[Any, Callable[[int, int], None]], RiffgenOutput]


def decoding_call(call: PipelineCall, decoder: str) -> PipelineCall:
    """``call`` with the pipeline decoding its images with ``decoder``, on the worker thread
    that owns the pipeline (so no other request sees the change), restored afterwards."""
    from riffgen.diffusion.pipeline import decoding

    def decoded(pipeline: Any, check: Callable[[int, int], None]) -> RiffgenOutput:
        with decoding(pipeline, decoder):
            return call(pipeline, check)

    return decoded


@dataclass(frozen=True)
class EncodedClip:
    """A finished clip, already encoded, so the event loop only copies bytes."""

    audio: bytes
    audio_format: AudioFormat
    image: bytes
    image_format: Literal["png", "jpeg"]
    duration_s: float
    sample_rate: int
    elapsed_s: float
    parameters: dict[str, Any]


def clip_job(
    call: PipelineCall, *, audio_format: AudioFormat, image_format: Literal["png", "jpeg"] = "png"
):
    """A worker job: run ``call(pipeline, step_callback)`` and encode the result."""

    def job(pipeline: Any, check: Callable[[int, int], None]) -> EncodedClip:
        start = time.perf_counter()
        out = call(pipeline, check)
        check(0, 0)  # cancelled during the last step or the decoding: skip the encoding
        return EncodedClip(
            audio=encode_audio(out.audio, out.sample_rate, audio_format),
            audio_format=audio_format,
            image=encode_image(out.image, image_format),
            image_format=image_format,
            duration_s=round(float(out.duration_s), 4),
            sample_rate=int(out.sample_rate),
            elapsed_s=round(time.perf_counter() - start, 3),
            parameters=jsonable_only(out.parameters),
        )

    return job
