"""``/api/v1`` generation: text to audio, interpolation, audio to audio, inpainting."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from riffgen.audio import audio_to_image
from riffgen.diffusion.types import RiffgenOutput
from riffgen.server import schemas as s
from riffgen.server.errors import FieldError
from riffgen.server.routes.common import (
    Decoder,
    Fmt,
    Guidance,
    NegPrompt,
    OptHz,
    OptS,
    OptSeconds,
    Prompt,
    ResponseQuery,
    Seconds,
    Seed,
    Steps,
    Unit,
    clip_response,
    interpolate_call,
    with_decoder,
)
from riffgen.server.state import State
from riffgen.server.uploads import read_upload, upload_audio, upload_image

router = APIRouter(prefix="/api/v1", tags=["generate"])


@router.post("/text_to_audio", response_model=s.ClipResponse)
async def text_to_audio(
    body: s.TextToAudioRequest, request: Request, state: State, response: ResponseQuery = "json"
) -> Response:
    steps = state.check_steps(body.num_inference_steps, ["body", "num_inference_steps"])
    width = state.check_width(body.width, ["body", "width"])

    def call(pipe, cb) -> RiffgenOutput:
        return pipe.text_to_audio(
            body.prompt,
            negative_prompt=body.negative_prompt,
            seed=body.seed,
            num_inference_steps=steps,
            guidance=body.guidance,
            width=width,
            callback=cb,
            tempo_seed=body.tempo_seed,
        )

    call = with_decoder(state, call, body.decoder)
    clip = await state.run_clip(request, call, name="text_to_audio", audio_format=body.format)
    return clip_response(clip, response)


@router.post("/interpolate", response_model=s.ClipResponse)
async def interpolate(
    body: s.InterpolateRequest, request: Request, state: State, response: ResponseQuery = "json"
) -> Response:
    call = interpolate_call(state, body, bpm=body.bpm)
    clip = await state.run_clip(request, call, name="interpolate", audio_format=body.format)
    return clip_response(clip, response)


@router.post("/audio_to_audio", response_model=s.ClipResponse)
async def audio_to_audio(
    request: Request,
    state: State,
    file: Annotated[UploadFile, File(description="audio: WAV, FLAC, OGG or MP3")],
    prompt: Prompt,
    denoising: Annotated[float, Form(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.6,
    negative_prompt: NegPrompt = None,
    seed: Seed = 0,
    num_inference_steps: Steps = None,
    guidance: Guidance = 7.0,
    start_s: Seconds = 0.0,
    duration_s: OptSeconds = None,
    format: Fmt = "wav",
    decoder: Decoder = None,
    response: ResponseQuery = "json",
) -> Response:
    steps = state.check_steps(num_inference_steps, ["body", "num_inference_steps"])
    data = await read_upload(file, "file")
    samples, sr = await upload_audio(state, data, "file", start_s, duration_s)
    width = state.params.width_for_duration(samples.shape[1] / sr)
    state.check_width(min(width, 10**6), ["body", "file"])

    def call(pipe, cb) -> RiffgenOutput:
        return pipe.audio_to_audio(
            prompt,
            init_audio=samples,
            sample_rate=sr,
            denoising=denoising,
            negative_prompt=negative_prompt,
            seed=seed,
            num_inference_steps=steps,
            guidance=guidance,
            callback=cb,
        )

    call = with_decoder(state, call, decoder)
    clip = await state.run_clip(request, call, name="audio_to_audio", audio_format=format)
    return clip_response(clip, response)


@router.post("/inpaint", response_model=s.ClipResponse)
async def inpaint(
    request: Request,
    state: State,
    prompt: Prompt,
    file: Annotated[UploadFile | None, File(description="audio to repaint")] = None,
    image: Annotated[UploadFile | None, File(description="or a spectrogram PNG")] = None,
    mask: Annotated[UploadFile | None, File(description="white = repaint")] = None,
    start_s: OptS = None,
    end_s: OptS = None,
    min_hz: OptHz = None,
    max_hz: OptHz = None,
    denoising: Unit = 1.0,
    negative_prompt: NegPrompt = None,
    seed: Seed = 0,
    num_inference_steps: Steps = None,
    guidance: Guidance = 7.0,
    format: Fmt = "wav",
    decoder: Decoder = None,
    response: ResponseQuery = "json",
) -> Response:
    params = state.params
    steps = state.check_steps(num_inference_steps, ["body", "num_inference_steps"])
    if (file is None) == (image is None):
        raise FieldError(["body", "file"], "upload either file (audio) or image (spectrogram)")
    if image is not None:
        picture = await upload_image(state, await read_upload(image, "image"), "image")
        init = picture.convert("RGB")
    else:
        samples, sr = await upload_audio(state, await read_upload(file, "file"), "file", 0.0, None)
        init = await run_in_threadpool(audio_to_image, samples, sr, params)
    state.check_width(init.width, ["body", "image" if image is not None else "file"])
    total_s = params.num_samples(init.width) / params.sample_rate
    mask_image = None
    if mask is not None:
        drawn = await upload_image(state, await read_upload(mask, "mask"), "mask")
        mask_image = drawn.convert("L")
    elif start_s is None and end_s is None and min_hz is None and max_hz is None:
        raise FieldError(["body", "mask"], "give a mask image or start_s/end_s (seconds)")
    else:
        lo, hi = start_s or 0.0, total_s if end_s is None else end_s
        if lo >= total_s:
            raise FieldError(
                ["body", "start_s"],
                f"start_s {lo:g} s is past the end of the clip ({total_s:.2f} s)",
            )
        if lo >= hi:
            raise FieldError(["body", "end_s"], f"end_s ({hi:g}) must be after start_s ({lo:g})")
        if min_hz is not None and max_hz is not None and min_hz >= max_hz:
            raise FieldError(["body", "max_hz"], "max_hz must be above min_hz")

    def call(pipe, cb) -> RiffgenOutput:
        return pipe.inpaint(
            prompt,
            init_image=init,
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
            callback=cb,
        )

    call = with_decoder(state, call, decoder)
    clip = await state.run_clip(request, call, name="inpaint", audio_format=format)
    return clip_response(clip, response)
