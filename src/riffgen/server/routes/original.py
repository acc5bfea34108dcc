"""``POST /run_inference/``: the original Riffusion web app's one request.

Its clients: the app's Node proxy (``pages/api/server.js``, JSON to ``RIFFUSION_FLASK_URL``, no
browser Origin) and anything written against the original Flask server, which read every body as
JSON. So the body is JSON whatever its Content-Type (the app's browser code posts it as
text/plain), and the path works with or without its trailing slash.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from riffgen.server import schemas as s
from riffgen.server.codecs import data_url
from riffgen.server.routes.common import interpolate_call
from riffgen.server.state import State


class JsonBodyRoute(APIRoute):
    """A route whose body is parsed as JSON whatever Content-Type the request declares."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def as_json(request: Request) -> Response:
            headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
            request.scope["headers"] = [*headers, (b"content-type", b"application/json")]
            return await handler(request)

        return as_json


router = APIRouter(tags=["riffusion"], route_class=JsonBodyRoute)


@router.post(
    "/run_inference/",
    response_model=s.InferenceOutput,
    summary="Riffusion-compatible interpolation step (MP3 + JPEG data URLs)",
)
# Without the slash the static web app at "/" would catch the POST (405); a redirect would make
# some clients drop the body.
@router.post("/run_inference", include_in_schema=False)
async def run_inference(body: s.InferenceInput, request: Request, state: State) -> JSONResponse:
    call = interpolate_call(state, body)
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
