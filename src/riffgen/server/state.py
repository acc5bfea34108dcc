"""What every route shares: the model workers, the seed images, the settings.

One :class:`AppState` lives on ``app.state.riffgen``; routes receive it through
``Depends(get_state)`` (the ``State`` annotation) instead of closing over ``create_app``'s locals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends
from starlette.requests import HTTPConnection, Request

from riffgen.audio import SpectrogramParams
from riffgen.endless.seeds import SeedImage
from riffgen.errors import RiffgenError
from riffgen.server.config import ServerConfig
from riffgen.server.errors import FieldError
from riffgen.server.jobs import EncodedClip, PipelineCall, clip_job
from riffgen.server.pool import WorkerPool
from riffgen.server.seeds import SeedRegistry, check_name
from riffgen.server.worker import JobFn


@dataclass
class AppState:
    pool: WorkerPool
    registry: SeedRegistry
    config: ServerConfig
    jam_sessions: int = 0

    @property
    def params(self) -> SpectrogramParams:
        return self.pool.spectrogram_params

    # -- request checks ------------------------------------------------------------------
    @property
    def default_steps(self) -> int:
        """The steps of a request that names none: the served model's default."""
        return self.pool.default_steps

    def check_steps(self, steps: int | None, loc: Sequence[str]) -> int:
        """``steps`` (None: the model's default) within this server's bound."""
        if steps is None:
            steps = self.default_steps
        if steps > self.config.max_steps:
            raise FieldError(loc, f"at most {self.config.max_steps} inference steps on this server")
        return steps

    def check_width(self, width: int, loc: Sequence[str]) -> int:
        if width > self.config.max_width:
            raise FieldError(loc, f"at most {self.config.max_width} columns on this server")
        return width

    def seed_image(
        self, name: str, loc: Sequence[str], *, bpm: float | None = None, mask: bool = False
    ) -> SeedImage:
        """The registry's image ``name`` (RGB); unknown names are a 422 naming ``loc``."""
        try:
            check_name(name)
            seed = self.registry.get(name, bpm=bpm)
        except RiffgenError:
            known = ", ".join(i.name for i in self.registry.list() if i.is_mask == mask) or "none"
            kind = "mask" if mask else "seed"
            raise FieldError(loc, f"unknown {kind} image {name!r} (known: {known})") from None
        if seed.image.width > self.config.max_width:
            raise FieldError(loc, f"seed image {name!r} is wider than {self.config.max_width} px")
        return dataclasses.replace(seed, image=seed.image.convert("RGB"))

    # -- running work on the model workers --------------------------------------------------
    async def run_job(self, request: Request | None, job: JobFn, *, name: str) -> Any:
        """Run ``job`` on a worker; cancelled if the HTTP client goes away."""
        return await self.pool.run(
            job,
            timeout_s=self.config.request_timeout_s,
            name=name,
            is_disconnected=request.is_disconnected if request is not None else None,
        )

    async def run_clip(
        self,
        request: Request,
        call: PipelineCall,
        *,
        name: str,
        audio_format: str,
        image_format: Literal["png", "jpeg"] = "png",
    ) -> EncodedClip:
        job = clip_job(call, audio_format=audio_format, image_format=image_format)
        return await self.run_job(request, job, name=name)


def get_state(connection: HTTPConnection) -> AppState:
    """The dependency: works for HTTP requests and websockets alike."""
    return connection.app.state.riffgen


State = Annotated[AppState, Depends(get_state)]
