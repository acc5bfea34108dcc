"""``/api/v1`` conversions without diffusion: spectrogram image <-> audio."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response

from riffgen.audio import audio_to_image, image_to_audio
from riffgen.audio.convert import resolve_decoder
from riffgen.diffusion.types import RiffgenOutput
from riffgen.server import schemas as s
from riffgen.server.codecs import encode_image
from riffgen.server.routes.common import (
    Decoder,
    Fmt,
    OptSeconds,
    ResponseQuery,
    Seconds,
    Seed,
    clip_response,
)
from riffgen.server.state import State
from riffgen.server.uploads import read_upload, upload_audio, upload_image

router = APIRouter(prefix="/api/v1", tags=["convert"])


@router.post("/image_to_audio", response_model=s.ClipResponse)
async def image_to_audio_route(
    request: Request,
    state: State,
    image: Annotated[UploadFile, File(description="spectrogram image (PNG), white = silence")],
    seed: Seed = 0,
    format: Fmt = "wav",
    decoder: Decoder = None,
    response: ResponseQuery = "json",
) -> Response:
    picture = await upload_image(state, await read_upload(image, "image"), "image")
    params = state.params
    wanted = decoder or state.config.decoder

    def call(_pipe, _cb) -> RiffgenOutput:
        exif_free = picture.convert("RGB")
        used = resolve_decoder(wanted, params)
        audio, sr = image_to_audio(exif_free, params, seed=seed, decoder=used)
        return RiffgenOutput(
            audio=audio,
            sample_rate=sr,
            image=exif_free,
            parameters={"seed": seed, "width": picture.width, "decoder": used},
        )

    clip = await state.run_clip(request, call, name="image_to_audio", audio_format=format)
    return clip_response(clip, response)


@router.post(
    "/audio_to_image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def audio_to_image_route(
    request: Request,
    state: State,
    file: Annotated[UploadFile, File(description="audio: WAV, FLAC, OGG or MP3")],
    start_s: Seconds = 0.0,
    duration_s: OptSeconds = None,
) -> Response:
    data = await read_upload(file, "file")
    samples, sr = await upload_audio(state, data, "file", start_s, duration_s)
    params = state.params

    def job(_pipe, _cb) -> bytes:
        return encode_image(audio_to_image(samples, sr, params), "png")

    png = await state.run_job(request, job, name="audio_to_image")
    return Response(
        png, media_type="image/png", headers={"X-Duration-S": f"{samples.shape[1] / sr:.4f}"}
    )
