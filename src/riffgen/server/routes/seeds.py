"""``/api/v1/seed_images``: the seed and mask images requests may name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from riffgen.errors import RiffgenError
from riffgen.server import schemas as s
from riffgen.server.codecs import encode_image
from riffgen.server.seeds import check_name
from riffgen.server.state import State

router = APIRouter(prefix="/api/v1/seed_images", tags=["meta"])


@router.get("", response_model=list[s.SeedImageInfo])
async def seed_images(state: State) -> list[dict[str, Any]]:
    params = state.params
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
        for i in state.registry.list()
    ]


@router.get(
    "/{name}.png",
    responses={200: {"content": {"image/png": {}}}},
    response_class=Response,
)
async def seed_image_png(name: str, state: State) -> Response:
    try:
        check_name(name)
        seed = state.registry.get(name)
    except RiffgenError:
        return JSONResponse({"detail": f"unknown seed image {name!r}"}, status_code=404)
    return Response(
        encode_image(seed.image, "png"),
        media_type="image/png",
        headers={"Cache-Control": "max-age=3600"},
    )
