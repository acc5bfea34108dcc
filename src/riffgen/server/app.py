"""The FastAPI application: the original ``/run_inference/`` route, ``/api/v1``, the web app."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, File, Form, Query, Request, UploadFile, WebSocket
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from starlette.exceptions import HTTPException as StarletteHTTPException

from riffgen import __version__
from riffgen.audio import audio_to_image, image_to_audio
from riffgen.diffusion.types import PromptInput, RiffgenOutput
from riffgen.errors import RiffgenError
from riffgen.server import schemas as s
from riffgen.server.codecs import (
    AUDIO_MIME,
    data_url,
    decode_audio,
    decode_image,
    encode_image,
)
from riffgen.server.config import ServerConfig
from riffgen.server.jobs import EncodedClip, clip_job
from riffgen.server.middleware import ApiKeyMiddleware, BodyLimitMiddleware, RequestLogMiddleware
from riffgen.server.pool import WorkerPool
from riffgen.server.seeds import SeedRegistry, check_name
from riffgen.server.worker import (
    JobCancelledError,
    JobTimeoutError,
    QueueFullError,
    WorkerClosedError,
)

log = logging.getLogger("riffgen.server")
STATIC_DIR = Path(__file__).parent / "static"

DESCRIPTION = """\
riffgen inference server. `POST /run_inference/` speaks the original Riffusion web app's
protocol; everything else lives under `/api/v1`. The endless jam stream is a WebSocket at
`/api/v1/jam` (see the web app at `/` and the server docs for its messages). When the server
runs with an API key, send it as `X-API-Key` (websockets: `?api_key=`).
"""

ResponseKind = Literal["json", "audio", "image"]

# Multipart form fields (module level: FastAPI resolves annotations in module globals).
Prompt = Annotated[str, Form(min_length=1, max_length=s.MAX_PROMPT_CHARS)]
NegPrompt = Annotated[str | None, Form(max_length=s.MAX_PROMPT_CHARS)]
Seed = Annotated[int, Form(ge=0, le=s.MAX_SEED)]
Steps = Annotated[int, Form(ge=1)]
Guidance = Annotated[float, Form(ge=0.0, le=50.0, allow_inf_nan=False)]
Unit = Annotated[float, Form(ge=0.0, le=1.0, allow_inf_nan=False)]
Fmt = Annotated[s.AudioFormatField, Form()]
Seconds = Annotated[float, Form(ge=0.0, le=3600.0, allow_inf_nan=False)]
OptSeconds = Annotated[float | None, Form(gt=0.0, le=3600.0, allow_inf_nan=False)]
OptS = Annotated[float | None, Form(ge=0.0, le=3600.0, allow_inf_nan=False)]
OptHz = Annotated[float | None, Form(ge=0.0, le=100000.0, allow_inf_nan=False)]


class FieldError(RiffgenError):
    """Bad value of one request field: answered 422 with the field's location."""

    def __init__(self, loc: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.loc = list(loc)


def _error_body(loc: Sequence[Any], msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"detail": [{"loc": list(loc), "msg": msg, "type": kind}]}


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Only loc/msg/type: echoing the raw input could hold bytes that are not JSON.
        errors = [
            {
                "loc": [str(x) if not isinstance(x, int) else x for x in e.get("loc", ())],
                "msg": str(e.get("msg", "invalid value")),
                "type": str(e.get("type", "value_error")),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(FieldError)
    async def on_field_error(_: Request, exc: FieldError) -> JSONResponse:
        return JSONResponse(_error_body(exc.loc, str(exc)), status_code=422)

    @app.exception_handler(RiffgenError)
    async def on_riffgen_error(_: Request, exc: RiffgenError) -> JSONResponse:
        return JSONResponse(_error_body(["body"], str(exc)), status_code=422)

    @app.exception_handler(QueueFullError)
    async def on_queue_full(_: Request, exc: QueueFullError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc), "retry_after_s": exc.retry_after_s},
            status_code=503,
            headers={"Retry-After": str(exc.retry_after_s)},
        )

    @app.exception_handler(JobTimeoutError)
    async def on_timeout(_: Request, exc: JobTimeoutError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=504)

    @app.exception_handler(JobCancelledError)
    async def on_cancelled(_: Request, exc: JobCancelledError) -> JSONResponse:
        # The client has gone; the status only shows up in the log line.
        return JSONResponse({"detail": str(exc)}, status_code=499)

    @app.exception_handler(WorkerClosedError)
    async def on_closed(_: Request, exc: WorkerClosedError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": jsonable_encoder(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}"}, status_code=500)


def create_app(
    pool: WorkerPool,
    registry: SeedRegistry,
    config: ServerConfig | None = None,
    *,
    serve_static: bool = True,
) -> FastAPI:
    """Build the app around ``pool`` (model workers) and ``registry`` (seed images)."""
    config = config or ServerConfig()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        pool.close()

    app = FastAPI(title="riffgen", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.pool = pool
    app.state.registry = registry
    app.state.config = config
    app.state.jam_sessions = 0
    _add_error_handlers(app)
    params = pool.spectrogram_params

    # -- helpers ---------------------------------------------------------------------
    def check_steps(steps: int, loc: Sequence[str]) -> int:
        if steps > config.max_steps:
            raise FieldError(loc, f"at most {config.max_steps} inference steps on this server")
        return steps

    def check_width(width: int, loc: Sequence[str]) -> int:
        if width > config.max_width:
            raise FieldError(loc, f"at most {config.max_width} columns on this server")
        return width

    def seed_image(
        name: str, loc: Sequence[str], *, bpm: float | None = None, mask: bool = False
    ) -> Image.Image:
        try:
            check_name(name)
            image = registry.get(name, bpm=bpm) if bpm else registry.get(name)
        except RiffgenError:
            known = ", ".join(i.name for i in registry.list() if i.is_mask == mask) or "none"
            kind = "mask" if mask else "seed"
            raise FieldError(loc, f"unknown {kind} image {name!r} (known: {known})") from None
        if image.width > config.max_width:
            raise FieldError(loc, f"seed image {name!r} is wider than {config.max_width} px")
        return image.convert("RGB")

    async def run_clip(
        request: Request,
        call,
        *,
        name: str,
        audio_format: str,
        image_format: Literal["png", "jpeg"] = "png",
    ) -> EncodedClip:
        return await pool.run(
            clip_job(call, audio_format=audio_format, image_format=image_format),
            timeout_s=config.request_timeout_s,
            name=name,
            is_disconnected=request.is_disconnected,
        )

    def clip_response(clip: EncodedClip, response: ResponseKind) -> Response:
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

    async def read_upload(upload: UploadFile | None, field: str) -> bytes:
        if upload is None:
            raise FieldError(["body", field], f"{field}: no file uploaded")
        data = await upload.read()
        if not data:
            raise FieldError(["body", field], f"{field}: empty upload")
        return data

    def upload_audio(data: bytes, field: str, start_s: float, duration_s: float | None):
        try:
            samples, sr = decode_audio(data, field=field)
        except RiffgenError as exc:
            raise FieldError(["body", field], str(exc)) from None
        first = int(round(start_s * sr))
        if first >= samples.shape[1]:
            raise FieldError(
                ["body", "start_s"],
                f"start_s {start_s:g} s is past the end of the audio "
                f"({samples.shape[1] / sr:.2f} s)",
            )
        last = samples.shape[1] if duration_s is None else first + int(round(duration_s * sr))
        samples = samples[:, first:last]
        length_s = samples.shape[1] / sr
        if length_s > config.max_audio_s:
            raise FieldError(
                ["body", field],
                f"{field}: {length_s:.1f} s of audio, at most {config.max_audio_s:g} s "
                "(pass start_s and duration_s to pick a part)",
            )
        # Eight spectrogram columns, measured in seconds: the upload's own rate may be lower.
        min_s = 8 * params.hop_length / params.sample_rate
        if length_s < min_s:
            raise FieldError(["body", field], f"{field}: audio shorter than {min_s * 1000:.0f} ms")
        return samples, sr

    def upload_image(data: bytes, field: str) -> Image.Image:
        try:
            image = decode_image(data, field=field)
        except RiffgenError as exc:
            raise FieldError(["body", field], str(exc)) from None
        if image.width > config.max_width or image.height > 1024:
            raise FieldError(
                ["body", field],
                f"{field}: {image.width}x{image.height} px; at most {config.max_width}x1024",
            )
        if image.width < 8 or image.height < 8:
            raise FieldError(["body", field], f"{field}: image smaller than 8x8 px")
        return image

    # -- the original web app's route -------------------------------------------------
    @app.post(
        "/run_inference/",
        response_model=s.InferenceOutput,
        tags=["riffusion"],
        summary="Riffusion-compatible interpolation step (MP3 + JPEG data URLs)",
    )
    async def run_inference(body: s.InferenceInput, request: Request) -> JSONResponse:
        steps = check_steps(body.num_inference_steps, ["body", "num_inference_steps"])
        init = seed_image(body.seed_image_id, ["body", "seed_image_id"])
        mask = (
            seed_image(body.mask_image_id, ["body", "mask_image_id"], mask=True)
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

        clip = await run_clip(
            request, call, name="run_inference", audio_format="mp3", image_format="jpeg"
        )
        return JSONResponse(
            s.InferenceOutput(
                image=data_url(clip.image, "image/jpeg"),
                audio=data_url(clip.audio, "audio/mpeg"),
                duration_s=clip.duration_s,
            ).model_dump()
        )

    # -- /api/v1 ---------------------------------------------------------------------
    response_q = Query("json", description="json: data URLs; audio or image: the raw file")

    @app.get("/api/v1/health", response_model=s.HealthResponse, tags=["meta"])
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "model": config.model_name,
            "workers": pool.describe(),
            "jam_sessions": app.state.jam_sessions,
        }

    @app.get("/api/v1/seed_images", response_model=list[s.SeedImageInfo], tags=["meta"])
    async def seed_images() -> list[dict[str, Any]]:
        return [
            {
                "name": i.name,
                "bpm": i.bpm,
                "width": i.width,
                "height": i.height,
                "duration_s": round(params.num_samples(i.width) / params.sample_rate, 3),
                "is_mask": i.is_mask,
                "url": f"/api/v1/seed_images/{i.name}.png",
            }
            for i in registry.list()
        ]

    @app.get(
        "/api/v1/seed_images/{name}.png",
        tags=["meta"],
        responses={200: {"content": {"image/png": {}}}},
        response_class=Response,
    )
    async def seed_image_png(name: str) -> Response:
        try:
            check_name(name)
            image = registry.get(name)
        except RiffgenError:
            return JSONResponse({"detail": f"unknown seed image {name!r}"}, status_code=404)
        return Response(
            encode_image(image, "png"),
            media_type="image/png",
            headers={"Cache-Control": "max-age=3600"},
        )

    @app.post("/api/v1/text_to_audio", tags=["generate"], response_model=s.ClipResponse)
    async def text_to_audio(
        body: s.TextToAudioRequest, request: Request, response: ResponseKind = response_q
    ) -> Response:
        steps = check_steps(body.num_inference_steps, ["body", "num_inference_steps"])
        width = check_width(body.width, ["body", "width"])

        def call(pipe, cb) -> RiffgenOutput:
            return pipe.text_to_audio(
                body.prompt,
                negative_prompt=body.negative_prompt,
                seed=body.seed,
                num_inference_steps=steps,
                guidance=body.guidance,
                width=width,
                callback=cb,
            )

        clip = await run_clip(request, call, name="text_to_audio", audio_format=body.format)
        return clip_response(clip, response)

    @app.post("/api/v1/interpolate", tags=["generate"], response_model=s.ClipResponse)
    async def interpolate(
        body: s.InterpolateRequest, request: Request, response: ResponseKind = response_q
    ) -> Response:
        steps = check_steps(body.num_inference_steps, ["body", "num_inference_steps"])
        init = seed_image(body.seed_image_id, ["body", "seed_image_id"], bpm=body.bpm)
        mask = (
            seed_image(body.mask_image_id, ["body", "mask_image_id"], mask=True)
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

        clip = await run_clip(request, call, name="interpolate", audio_format=body.format)
        return clip_response(clip, response)

    @app.post("/api/v1/audio_to_audio", tags=["generate"], response_model=s.ClipResponse)
    async def audio_to_audio(
        request: Request,
        file: Annotated[UploadFile, File(description="audio: WAV, FLAC, OGG or MP3")],
        prompt: Prompt,
        denoising: Annotated[float, Form(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.6,
        negative_prompt: NegPrompt = None,
        seed: Seed = 0,
        num_inference_steps: Steps = 50,
        guidance: Guidance = 7.0,
        start_s: Seconds = 0.0,
        duration_s: OptSeconds = None,
        format: Fmt = "wav",
        response: ResponseKind = response_q,
    ) -> Response:
        steps = check_steps(num_inference_steps, ["body", "num_inference_steps"])
        samples, sr = upload_audio(await read_upload(file, "file"), "file", start_s, duration_s)
        check_width(min(params.width_for_duration(samples.shape[1] / sr), 10**6), ["body", "file"])

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

        clip = await run_clip(request, call, name="audio_to_audio", audio_format=format)
        return clip_response(clip, response)

    @app.post("/api/v1/inpaint", tags=["generate"], response_model=s.ClipResponse)
    async def inpaint(
        request: Request,
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
        num_inference_steps: Steps = 50,
        guidance: Guidance = 7.0,
        format: Fmt = "wav",
        response: ResponseKind = response_q,
    ) -> Response:
        steps = check_steps(num_inference_steps, ["body", "num_inference_steps"])
        if (file is None) == (image is None):
            raise FieldError(["body", "file"], "upload either file (audio) or image (spectrogram)")
        if image is not None:
            init = upload_image(await read_upload(image, "image"), "image").convert("RGB")
        else:
            samples, sr = upload_audio(await read_upload(file, "file"), "file", 0.0, None)
            init = await _to_thread(audio_to_image, samples, sr, params)
        check_width(init.width, ["body", "image" if image is not None else "file"])
        total_s = params.num_samples(init.width) / params.sample_rate
        mask_image = None
        if mask is not None:
            mask_image = upload_image(await read_upload(mask, "mask"), "mask").convert("L")
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
                raise FieldError(
                    ["body", "end_s"], f"end_s ({hi:g}) must be after start_s ({lo:g})"
                )
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

        clip = await run_clip(request, call, name="inpaint", audio_format=format)
        return clip_response(clip, response)

    @app.post("/api/v1/image_to_audio", tags=["convert"], response_model=s.ClipResponse)
    async def image_to_audio_route(
        request: Request,
        image: Annotated[UploadFile, File(description="spectrogram image (PNG), white = silence")],
        seed: Seed = 0,
        format: Fmt = "wav",
        response: ResponseKind = response_q,
    ) -> Response:
        picture = upload_image(await read_upload(image, "image"), "image")

        def call(_pipe, _cb) -> RiffgenOutput:
            exif_free = picture.convert("RGB")
            audio, sr = image_to_audio(exif_free, params, seed=seed)
            return RiffgenOutput(
                audio=audio,
                sample_rate=sr,
                image=exif_free,
                parameters={"seed": seed, "width": picture.width},
            )

        clip = await run_clip(request, call, name="image_to_audio", audio_format=format)
        return clip_response(clip, response)

    @app.post(
        "/api/v1/audio_to_image",
        tags=["convert"],
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}},
    )
    async def audio_to_image_route(
        request: Request,
        file: Annotated[UploadFile, File(description="audio: WAV, FLAC, OGG or MP3")],
        start_s: Seconds = 0.0,
        duration_s: OptSeconds = None,
    ) -> Response:
        samples, sr = upload_audio(await read_upload(file, "file"), "file", start_s, duration_s)

        def job(_pipe, _cb) -> bytes:
            return encode_image(audio_to_image(samples, sr, params), "png")

        png = await pool.run(
            job,
            timeout_s=config.request_timeout_s,
            name="audio_to_image",
            is_disconnected=request.is_disconnected,
        )
        return Response(
            png, media_type="image/png", headers={"X-Duration-S": f"{samples.shape[1] / sr:.4f}"}
        )

    @app.websocket("/api/v1/jam")
    async def jam(websocket: WebSocket) -> None:
        from riffgen.server.jam import run_jam_session

        await run_jam_session(websocket, app=app, seed_image=seed_image)

    # -- middleware (last added runs first) and the web app -----------------------------
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["content-type", "x-api-key", "authorization"],
            expose_headers=["retry-after", "x-duration-s", "x-elapsed-s"],
        )
    app.add_middleware(
        BodyLimitMiddleware, upload_limit=config.max_upload_bytes, json_limit=config.max_json_bytes
    )
    if config.api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=config.api_key)
    app.add_middleware(RequestLogMiddleware)
    if serve_static and STATIC_DIR.is_dir():
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app


async def _to_thread(fn, *args):
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)
