"""The model workers the server runs: one pipeline (from the model registry) per device."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from riffgen.server.pool import WorkerPool
from riffgen.server.worker import ModelWorker

log = logging.getLogger("riffgen.server")


def load_pipeline(
    model: str,
    *,
    device: str | None,
    dtype: str | None = None,
    lora: str | None = None,
    scheduler: str = "pndm",
) -> Any:
    """``fake`` (tones, no weights), ``debug``, ``mini`` or a real model (see riffgen.models)."""
    from riffgen.diffusion.factory import load_pipeline as load

    return load(model, device=device, dtype=dtype, lora=lora, scheduler=scheduler)


def build_pool(
    model: str,
    *,
    devices: Sequence[str | None],
    max_queue: int,
    dtype: str | None = None,
    lora: str | None = None,
    scheduler: str = "pndm",
) -> WorkerPool:
    """One worker (with its own copy of the model) per device."""
    workers = []
    for device in devices:
        pipe = load_pipeline(model, device=device, dtype=dtype, lora=lora, scheduler=scheduler)
        name = device or str(getattr(pipe, "device", "cpu"))
        log.info("model %s loaded on %s", model, name)
        workers.append(ModelWorker(pipe, max_queue=max_queue, device=name))
    return WorkerPool(workers)
