"""``/api/v1/jam``: the endless jam stream over a WebSocket (messages in ``server.jam``)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from riffgen.server.jam import run_jam_session
from riffgen.server.state import State

router = APIRouter(prefix="/api/v1")


@router.websocket("/jam")
async def jam(websocket: WebSocket, state: State) -> None:
    await run_jam_session(websocket, state)
