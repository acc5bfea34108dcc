"""The inference server and web app: ``riffgen serve``.

``create_app(pool, registry, config)`` builds the FastAPI app; ``build_server`` loads a model
and does the wiring the CLI needs.
"""

from riffgen.server.app import create_app
from riffgen.server.config import ServerConfig
from riffgen.server.pool import WorkerPool
from riffgen.server.seeds import DictSeedRegistry, SeedInfo, SeedRegistry, default_registry
from riffgen.server.worker import ModelWorker

__all__ = [
    "DictSeedRegistry",
    "ModelWorker",
    "SeedInfo",
    "SeedRegistry",
    "ServerConfig",
    "WorkerPool",
    "create_app",
    "default_registry",
]
