"""The endless jam over a WebSocket, built on :class:`riffgen.endless.JamEngine`.

Messages are JSON objects with a ``type``.

Client -> server:
  ``start``    {prompts: [str | {prompt, duration_s}], seed, seed_image, bpm, denoising,
                guidance, negative_prompt, num_inference_steps, format, buffer_ahead,
                decoder (griffin-lim | vocoder | original; null: the server's default)}
  ``prompt``   {prompt, mode: "queue" | "now"}: add a prompt (or replace the waiting ones)
  ``settings`` any ``start`` field but prompts: restarts the engine from the current prompt/seed
  ``played``   {seq}: the client started playing clip ``seq`` (flow control)
  ``stop``

Server -> client:
  ``started``  {seed_image, bpm, sample_rate, clip_s}
  ``clip``     {seq, index, alpha, transition, prompt_index, start, end, start_s, duration_s,
                audio (data URL), image (PNG data URL), elapsed_s, restart}
  ``busy``     {retry_after_s}: the model queue is full; the server retries by itself
  ``error``    {message, loc}

Each clip's ``audio`` continues the stream exactly where the previous one ended (the engine
crossfades and beat-aligns the seams); ``restart`` marks a seam after a settings change where the
client should crossfade itself. The server keeps at most ``buffer_ahead`` clips ahead of the
last ``played`` index, so a paused client does not make the model work for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from riffgen.endless import JamConfig, JamEngine, JamPrompt, pipeline_clip_maker
from riffgen.errors import RiffgenError
from riffgen.serialize import to_jsonable
from riffgen.server.codecs import AUDIO_MIME, data_url, encode_audio, encode_image
from riffgen.server.errors import redact_paths
from riffgen.server.schemas import MAX_PROMPT_CHARS, MAX_SEED, DecoderField
from riffgen.server.seeds import NAME_PATTERN
from riffgen.server.state import AppState
from riffgen.server.worker import JobCancelledError, JobTimeoutError, QueueFullError

log = logging.getLogger("riffgen.server")
MAX_MESSAGE_BYTES = 64 * 1024


class JamPromptModel(BaseModel):
    model_config = ConfigDict(extra="ignore")
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    duration_s: float | None = Field(None, gt=0, le=3600, allow_inf_nan=False)


class JamSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    seed_image: str = Field("og_beat", pattern=NAME_PATTERN)
    bpm: float | None = Field(None, ge=40, le=240, allow_inf_nan=False)
    denoising: float = Field(0.75, ge=0.0, le=1.0, allow_inf_nan=False)
    guidance: float = Field(7.0, ge=0.0, le=50.0, allow_inf_nan=False)
    negative_prompt: str | None = Field(None, max_length=MAX_PROMPT_CHARS)
    num_inference_steps: int = Field(30, ge=1)
    format: Literal["wav", "ogg", "mp3"] = "wav"
    buffer_ahead: int = Field(3, ge=1, le=8)
    decoder: DecoderField | None = None


class JamStart(JamSettings):
    prompts: list[str | JamPromptModel] = Field(min_length=1, max_length=64)


class _Bad(Exception):
    def __init__(self, message: str, loc: list[Any] | None = None) -> None:
        super().__init__(message)
        self.loc = loc or []


def _parse(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _Bad(
            f"{'.'.join(map(str, first['loc']))}: {first['msg']}", list(first["loc"])
        ) from None


class JamSession:
    """State of one connection: the engine, flow control and the background generator."""

    def __init__(self, websocket: WebSocket, state: AppState) -> None:
        self.ws = websocket
        self.state = state
        self.pool = state.pool
        self.config = state.config
        self.settings: JamSettings | None = None
        self.engine: JamEngine | None = None
        self.iterator: Any = None
        self.restart = False
        self.played = -1
        self.sent = -1
        self.wake = asyncio.Event()
        self.generator: asyncio.Task[None] | None = None
        self.send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.ws.send_text(json.dumps(message))

    # -- engine ------------------------------------------------------------------------
    def _build_engine(self, settings: JamSettings, prompts: list[Any]) -> None:
        if settings.num_inference_steps > self.config.max_steps:
            raise _Bad(
                f"at most {self.config.max_steps} inference steps on this server",
                ["num_inference_steps"],
            )
        try:
            seed = self.state.seed_image(settings.seed_image, ["seed_image"], bpm=settings.bpm)
        except RiffgenError as exc:
            raise _Bad(str(exc), ["seed_image"]) from None
        # Clips name the seed as the client did (an alias such as og_beat stays og_beat).
        seed = dataclasses.replace(seed, name=settings.seed_image)
        items = [
            p if isinstance(p, str) else JamPrompt(p.prompt, duration_s=p.duration_s)
            for p in prompts
        ]
        try:
            self.engine = JamEngine(
                _no_pipeline,  # each worker job binds its own pipeline (see _render_next)
                items,
                seed_image=seed,
                config=JamConfig(
                    seed=settings.seed,
                    denoising=settings.denoising,
                    guidance=settings.guidance,
                    negative_prompt=settings.negative_prompt,
                    bpm=settings.bpm,  # None: the seed image's own tempo
                ),
            )
        except RiffgenError as exc:
            raise _Bad(str(exc)) from None
        self.iterator = self.engine.clips()
        self.settings = settings

    def _render_next(self, pipe: Any, callback: Callable[[int, int], None]) -> dict[str, Any]:
        """Worker-thread job: the engine's next clip, encoded."""
        # The pool may run each clip on another worker, so the engine renders with the
        # pipeline (and the cancel/timeout callback) of the job that runs it.
        self.engine.clip_maker = pipeline_clip_maker(
            pipe,
            num_inference_steps=self.settings.num_inference_steps,
            callback=callback,
            decoder=self.settings.decoder or self.config.decoder,
        )
        began = time.perf_counter()
        clip = next(self.iterator, None)
        if clip is None:  # StopIteration cannot travel through a future
            raise RiffgenError("the jam engine stopped")
        callback(0, 0)
        fmt = self.settings.format
        return {
            **to_jsonable(clip.to_dict()),
            "type": "clip",
            "audio": data_url(encode_audio(clip.audio, clip.sample_rate, fmt), AUDIO_MIME[fmt]),
            "image": data_url(encode_image(clip.image, "png"), "image/png"),
            "sample_rate": clip.sample_rate,
            # The image covers the whole rendered clip; the audio is its first duration_s.
            "image_duration_s": round(clip.output.duration_s, 4),
            "elapsed_s": round(time.perf_counter() - began, 3),
        }

    # -- loops -------------------------------------------------------------------------
    async def generate(self) -> None:
        while True:
            while self.engine is None or self.sent - self.played >= self.settings.buffer_ahead:
                self.wake.clear()
                await self.wake.wait()
            try:
                message = await self.pool.run(
                    self._render_next,
                    timeout_s=self.config.request_timeout_s,
                    name="jam",
                    priority=True,  # a listener is waiting: ahead of one-shot requests
                )
            except QueueFullError as exc:
                await self.send({"type": "busy", "retry_after_s": exc.retry_after_s})
                await asyncio.sleep(min(exc.retry_after_s, 5))
                continue
            except (JobTimeoutError, JobCancelledError) as exc:
                # The engine's generator died with the job; continue from its schedule.
                await self.error(f"clip failed: {exc}")
                self.iterator = self.engine.clips()
                await asyncio.sleep(1.0)
                continue
            except RiffgenError as exc:
                await self.error(str(exc))
                self.engine = None
                continue
            message["restart"] = self.restart
            self.restart = False
            self.sent += 1
            message["seq"] = self.sent
            await self.send(message)

    async def handle(self, data: dict[str, Any]) -> bool:
        """Apply one client message; False ends the session."""
        kind = data.get("type")
        if kind == "start":
            start = _parse(JamStart, data)
            await self._restart_engine(start, start.prompts, started=True)
        elif kind == "prompt":
            if self.engine is None:
                raise _Bad("send start first", ["type"])
            item = _parse(JamPromptModel, data)
            mode = data.get("mode", "queue")
            if mode not in ("queue", "now"):
                raise _Bad("mode must be 'queue' or 'now'", ["mode"])
            prompt = JamPrompt(item.prompt, duration_s=item.duration_s)
            (self.engine.queue_prompt if mode == "queue" else self.engine.set_prompt)(prompt)
        elif kind == "settings":
            if self.engine is None:
                raise _Bad("send start first", ["type"])
            merged = {**self.settings.model_dump(), **data}
            settings = _parse(JamSettings, merged)
            schedule = self.engine.schedule
            current = [schedule.current.prompt, *[p.prompt for p in schedule.pending]]
            settings = settings.model_copy(update={"seed": schedule.seed})
            await self._restart_engine(settings, current, started=False)
        elif kind == "played":
            index = data.get("seq")
            if not isinstance(index, int) or isinstance(index, bool):
                raise _Bad("seq must be an integer", ["seq"])
            self.played = max(self.played, index)
            self.wake.set()
        elif kind == "stop":
            return False
        else:
            raise _Bad(f"unknown message type {kind[:40]!r}", ["type"])
        return True

    async def _restart_engine(
        self, settings: JamSettings, prompts: list[Any], *, started: bool
    ) -> None:
        # Stop the generator first so no job runs on the old engine while we swap it.
        await self._stop_generator()
        previous_sent = self.sent
        self._build_engine(settings, prompts)
        self.restart = not started
        if started:
            self.played, self.sent = -1, -1
        else:
            # seq keeps counting across restarts, so the client's "played" stays meaningful;
            # clips already buffered count as played so the new engine starts at once.
            self.played = max(self.played, previous_sent - 1)
        engine = self.engine
        await self.send(
            {
                "type": "started",
                "seed_image": settings.seed_image,
                "bpm": engine.bpm,
                "sample_rate": engine.sample_rate,
                "clip_s": engine.period / engine.sample_rate,
                "restart": not started,
            }
        )
        self.generator = asyncio.create_task(self.generate())
        self.wake.set()

    async def _stop_generator(self) -> None:
        if self.generator is not None:
            self.generator.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.generator
            self.generator = None

    async def run(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                try:
                    if not await self.handle(parse_message(message)):
                        break
                except _Bad as exc:
                    await self.error(str(exc), exc.loc)
                except RiffgenError as exc:
                    await self.error(str(exc))
        except WebSocketDisconnect:
            pass
        finally:
            await self._stop_generator()

    async def error(self, message: str, loc: list[Any] | None = None) -> None:
        await self.send({"type": "error", "message": redact_paths(message), "loc": loc or []})


def parse_message(message: dict[str, Any]) -> dict[str, Any]:
    """One websocket frame -> the client's JSON object; ``_Bad`` for anything else."""
    text = message.get("text")
    if text is None:
        raise _Bad("binary frames are not understood: send JSON text")
    if len(text) > MAX_MESSAGE_BYTES or len(text.encode("utf-8", "replace")) > MAX_MESSAGE_BYTES:
        raise _Bad(f"message too large (at most {MAX_MESSAGE_BYTES // 1024} KiB)")
    try:
        data = json.loads(text)
    except RecursionError:  # e.g. 30,000 "[": the parser gives up, the session goes on
        raise _Bad("message nested too deeply") from None
    except ValueError:  # not JSON, or an integer of more digits than Python converts
        raise _Bad("not JSON") from None
    if not isinstance(data, dict):
        raise _Bad("messages are JSON objects")
    if not isinstance(data.get("type"), str):
        raise _Bad("type must be a string", ["type"])
    return data


def _no_pipeline(*_args: Any) -> Any:
    raise RiffgenError("a jam clip can only be rendered inside a worker job")


async def run_jam_session(websocket: WebSocket, state: AppState) -> None:
    if state.jam_sessions >= state.config.max_jam_sessions:
        await websocket.close(code=1013, reason="too many jam sessions, try again later")
        return
    await websocket.accept()
    state.jam_sessions += 1
    try:
        await JamSession(websocket, state).run()
    except Exception:  # noqa: BLE001 - a broken socket must not take the server down
        log.exception("jam session failed")
        with contextlib.suppress(Exception):
            await websocket.close(code=1011)
    finally:
        state.jam_sessions -= 1
