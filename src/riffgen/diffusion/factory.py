"""``load_pipeline``: the one call that turns a model name into something that generates."""

from __future__ import annotations

import os
from typing import Any

from riffgen.models import DEFAULT_MODEL


def load_pipeline(
    model: str | os.PathLike[str] = DEFAULT_MODEL,
    *,
    device: str | None = None,
    dtype: str | None = None,
    lora: str | os.PathLike[str] | None = None,
    lora_scale: float = 1.0,
    scheduler: str = "pndm",
) -> Any:
    """``fake`` (instant tones, no weights) or any model the registry resolves
    (``mini``, ``debug``, a hub id, a diffusers directory, one checkpoint file)."""
    from riffgen.models.registry import classify

    if classify(model) == "fake":
        from riffgen.diffusion.fake import FakePipeline

        return FakePipeline()
    from riffgen.diffusion.pipeline import RiffgenPipeline

    return RiffgenPipeline.from_pretrained(
        model, device=device, dtype=dtype, lora=lora, lora_scale=lora_scale, scheduler=scheduler
    )
