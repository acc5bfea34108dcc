"""The server's routes, one ``APIRouter`` per area; ``create_app`` includes them all."""

from riffgen.server.routes import convert, generate, health, jam, original, seeds

ROUTERS = (
    original.router,
    health.router,
    seeds.router,
    generate.router,
    convert.router,
    jam.router,
)

__all__ = ["ROUTERS"]
