"""The FastAPI application: the original ``/run_inference/`` route, ``/api/v1``, the web app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from riffgen import __version__
from riffgen.server.config import ServerConfig
from riffgen.server.errors import add_error_handlers
from riffgen.server.middleware import ApiKeyMiddleware, BodyLimitMiddleware, RequestLogMiddleware
from riffgen.server.pool import WorkerPool
from riffgen.server.routes import ROUTERS
from riffgen.server.routes.static import mount_web_app
from riffgen.server.security import SiteGuardMiddleware
from riffgen.server.seeds import SeedRegistry
from riffgen.server.state import AppState

DESCRIPTION = """\
riffgen inference server. `POST /run_inference/` speaks the original Riffusion web app's
protocol; everything else lives under `/api/v1`. The endless jam stream is a WebSocket at
`/api/v1/jam` (see the web app at `/` and the server docs for its messages). When the server
runs with an API key, send it as `X-API-Key` (websockets: `?api_key=`).
"""


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
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        pool.close()

    app = FastAPI(title="riffgen", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.riffgen = AppState(pool=pool, registry=registry, config=config)
    add_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)

    # Middleware, the last added runs first: log, site guard, CORS (answers preflights, which
    # carry no API key), API key, body limits.
    app.add_middleware(
        BodyLimitMiddleware,
        upload_limit=config.max_upload_bytes,
        json_limit=config.max_json_bytes,
        idle_timeout_s=config.body_idle_timeout_s,
        total_timeout_s=config.body_timeout_s,
    )
    if config.api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=config.api_key)
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["content-type", "x-api-key", "authorization"],
            expose_headers=["retry-after", "x-duration-s", "x-elapsed-s"],
        )
    app.add_middleware(
        SiteGuardMiddleware,
        allowed_hosts=config.allowed_hosts,
        allowed_origins=(*config.allowed_origins, *config.cors_origins),
        max_headers=config.max_headers,
        max_header_bytes=config.max_header_bytes,
    )
    app.add_middleware(RequestLogMiddleware)
    if serve_static:
        mount_web_app(app)
    return app
