"""Pieces several routers share: multipart field types and the clip response."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Form, Query
from fastapi.responses import JSONResponse, Response

from riffgen.diffusion.types import PromptInput, RiffgenOutput
from riffgen.server import schemas as s
from riffgen.server.codecs import AUDIO_MIME, data_url
from riffgen.server.jobs import EncodedClip, PipelineCall, decoding_call
from riffgen.server.state import AppState

ResponseKind = Literal["json", "audio", "image"]
ResponseQuery = Annotated[
    ResponseKind, Query(description="json: data URLs; audio or image: the raw file")
]

# Multipart form fields (module level: FastAPI resolves annotations in module globals).
Prompt = Annotated[str, Form(min_length=1, max_length=s.MAX_PROMPT_CHARS)]
NegPrompt = Annotated[str | None, Form(max_length=s.MAX_PROMPT_CHARS)]
Seed = Annotated[int, Form(ge=0, le=s.MAX_SEED)]
Steps = Annotated[int | None, Form(ge=1)]  # None: the model's default
Guidance = Annotated[float, Form(ge=0.0, le=50.0, allow_inf_nan=False)]
Unit = Annotated[float, Form(ge=0.0, le=1.0, allow_inf_nan=False)]
Fmt = Annotated[s.AudioFormatField, Form()]
Seconds = Annotated[float, Form(ge=0.0, le=3600.0, allow_inf_nan=False)]
OptSeconds = Annotated[float | None, Form(gt=0.0, le=3600.0, allow_inf_nan=False)]
OptS = Annotated[float | None, Form(ge=0.0, le=3600.0, allow_inf_nan=False)]
OptHz = Annotated[float | None, Form(ge=0.0, le=100000.0, allow_inf_nan=False)]
Decoder = Annotated[s.DecoderField | None, Form(description=s.DECODER_HELP)]


def with_decoder(state: AppState, call: PipelineCall, decoder: str | None) -> PipelineCall:
    """``call`` decoding with the request's ``decoder``, else the server's (``--decoder``)."""
    return decoding_call(call, decoder or state.config.decoder)


def clip_response(clip: EncodedClip, response: ResponseKind) -> Response:
    """The clip as JSON with data URLs, or one of its files raw (``?response=audio|image``)."""
    headers = {"X-Duration-S": f"{clip.duration_s:.4f}", "X-Elapsed-S": f"{clip.elapsed_s}"}
    if response == "audio":
        return Response(clip.audio, media_type=AUDIO_MIME[clip.audio_format], headers=headers)
    if response == "image":
        return Response(clip.image, media_type="image/png", headers=headers)
    body = s.ClipResponse(
        audio=data_url(clip.audio, AUDIO_MIME[clip.audio_format]),
        image=data_url(clip.image, "image/png"),
        format=clip.audio_format,
        duration_s=clip.duration_s,
        sample_rate=clip.sample_rate,
        elapsed_s=clip.elapsed_s,
        parameters=clip.parameters,
    )
    return JSONResponse(body.model_dump(), headers=headers)


def interpolate_call(
    state: AppState, body: Any, *, bpm: float | None = None
) -> Callable[[Any, Any], RiffgenOutput]:
    """The worker call of an interpolation request (the original ``/run_inference/`` and
    ``/api/v1/interpolate`` share it): steps, seed image and mask checked here, on the loop.
    The body's ``decoder`` decodes it (the original's body has none: the server's default)."""
    steps = state.check_steps(body.num_inference_steps, ["body", "num_inference_steps"])
    init = state.seed_image(body.seed_image_id, ["body", "seed_image_id"], bpm=bpm).image
    mask = (
        state.seed_image(body.mask_image_id, ["body", "mask_image_id"], mask=True).image
        if body.mask_image_id
        else None
    )
    start = PromptInput(**body.start.model_dump())
    end = PromptInput(**body.end.model_dump())

    def call(pipe, cb) -> RiffgenOutput:
        return pipe.interpolate(
            start,
            end,
            body.alpha,
            init_image=init,
            mask_image=mask,
            num_inference_steps=steps,
            callback=cb,
        )

    return with_decoder(state, call, getattr(body, "decoder", None))
