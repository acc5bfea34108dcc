"""``POST /run_inference/``: the original Riffusion web app's one request."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from riffgen.diffusion.types import PromptInput, RiffgenOutput
from riffgen.server import schemas as s
from riffgen.server.codecs import data_url
from riffgen.server.state import State

router = APIRouter(tags=["riffusion"])


@router.post(
    "/run_inference/",
    response_model=s.InferenceOutput,
    summary="Riffusion-compatible interpolation step (MP3 + JPEG data URLs)",
)
async def run_inference(body: s.InferenceInput, request: Request, state: State) -> JSONResponse:
    steps = state.check_steps(body.num_inference_steps, ["body", "num_inference_steps"])
    init = state.seed_image(body.seed_image_id, ["body", "seed_image_id"]).image
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

    clip = await state.run_clip(
        request, call, name="run_inference", audio_format="mp3", image_format="jpeg"
    )
    return JSONResponse(
        s.InferenceOutput(
            image=data_url(clip.image, "image/jpeg"),
            audio=data_url(clip.audio, "audio/mpeg"),
            duration_s=clip.duration_s,
        ).model_dump()
    )
