"""``GET /api/v1/health``: liveness and queue state, open even when an API key is set."""

from __future__ import annotations

from pathlib import Path, PureWindowsPath
from typing import Any

from fastapi import APIRouter

from riffgen import __version__
from riffgen.audio.decoders import DECODERS
from riffgen.server import schemas as s
from riffgen.server.state import State

router = APIRouter(prefix="/api/v1", tags=["meta"])


@router.get("/health", response_model=s.HealthResponse)
async def health(state: State) -> dict[str, Any]:
    return {
        "status": "ok",
        "version": __version__,
        "model": public_model_name(state.config.model_name),
        "workers": state.pool.describe(),
        "jam_sessions": state.jam_sessions,
        "decoder": state.config.decoder,
        "decoders": list(DECODERS),
        "default_steps": state.pool.default_steps,
    }


def public_model_name(name: str) -> str:
    """The model as clients may see it: a hub id or registry name as it is, a local folder or
    file by its last part only (the server's file system is nobody's business)."""
    path = Path(name).expanduser()
    if path.is_absolute() or name.startswith((".", "~")) or "\\" in name or path.exists():
        return PureWindowsPath(path.name).name or "local model"
    return name
