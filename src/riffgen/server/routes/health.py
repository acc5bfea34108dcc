"""``GET /api/v1/health``: liveness and queue state, open even when an API key is set."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from riffgen import __version__
from riffgen.server import schemas as s
from riffgen.server.state import State

router = APIRouter(prefix="/api/v1", tags=["meta"])


@router.get("/health", response_model=s.HealthResponse)
async def health(state: State) -> dict[str, Any]:
    return {
        "status": "ok",
        "version": __version__,
        "model": state.config.model_name,
        "workers": state.pool.describe(),
        "jam_sessions": state.jam_sessions,
    }
