"""Scheduler names -> diffusers schedulers built from the model's own scheduler config."""

from __future__ import annotations

from typing import Any

from riffgen.errors import RiffgenError

# name -> (diffusers class name, extra config). The model's config (betas, offset) is kept.
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "pndm": ("PNDMScheduler", {"skip_prk_steps": True}),
    "ddim": ("DDIMScheduler", {}),
    "dpm++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}),
    "dpm++-karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True},
    ),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler-a": ("EulerAncestralDiscreteScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
}

# Config keys some schedulers reject (DPMSolverMultistepScheduler refuses set_alpha_to_one).
_REJECTED_KEYS = {"DPMSolverMultistepScheduler": {"set_alpha_to_one"}}


def scheduler_names() -> list[str]:
    return list(SCHEDULERS)


def check_scheduler_name(name: str) -> str:
    key = name.strip().lower()
    if key not in SCHEDULERS:
        raise RiffgenError(f"unknown scheduler {name!r}: choose one of {', '.join(SCHEDULERS)}")
    return key


def make_scheduler(name: str, base_config: dict[str, Any]):
    """A fresh scheduler ``name`` using the betas/offsets of ``base_config`` (a scheduler config)."""
    import diffusers

    cls_name, extra = SCHEDULERS[check_scheduler_name(name)]
    cls = getattr(diffusers, cls_name)
    rejected = _REJECTED_KEYS.get(cls_name, set())
    config = {k: v for k, v in dict(base_config).items() if k not in rejected}
    config.update(extra)
    return cls.from_config(config)


def scheduler_name_of(scheduler: Any) -> str:
    """Best-effort riffgen name of a scheduler instance (its class name when unknown)."""
    cls_name = type(scheduler).__name__
    # Most specific first: "dpm++-karras" before "dpm++".
    for name, (known, extra) in sorted(SCHEDULERS.items(), key=lambda kv: -len(kv[1][1])):
        if known == cls_name and all(scheduler.config.get(k) == v for k, v in extra.items()):
            return name
    return cls_name
