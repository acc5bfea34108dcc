"""Loading the model(s) the server runs: a real checkpoint, the debug model, or the fake."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from riffgen.errors import RiffgenError
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
    """``fake`` (tones, no weights), ``debug`` (random debug-size model) or a real model."""
    if model == "fake":
        from riffgen.server.fake import FakePipeline

        return FakePipeline()
    try:
        from riffgen.diffusion import RiffgenPipeline
    except ImportError as exc:
        raise RiffgenError(f"the diffusion pipeline is not available: {exc}") from None
    if model == "debug":
        from riffgen.diffusion.debug import build_debug_model

        model = str(build_debug_model(Path(tempfile.mkdtemp(prefix="riffgen-debug-")), seed=0))
    kwargs: dict[str, Any] = {"device": device, "scheduler": scheduler}
    if dtype:
        import torch

        kwargs["dtype"] = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[
            dtype
        ]
    if lora:
        kwargs["lora"] = lora
    return RiffgenPipeline.from_pretrained(model, **kwargs)


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
