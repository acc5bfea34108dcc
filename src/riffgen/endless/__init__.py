"""Endless music: the jam engine, seed images with tempo, whole-song transforms, seamless loops."""

from riffgen.endless.engine import ClipMaker, JamClip, JamConfig, JamEngine, pipeline_clip_maker
from riffgen.endless.schedule import ClipSpec, JamPrompt, JamSchedule, parse_prompt
from riffgen.endless.seeds import SeedImage, get_seed_image, list_seed_images

__all__ = [
    "ClipMaker",
    "ClipSpec",
    "JamClip",
    "JamConfig",
    "JamEngine",
    "JamPrompt",
    "JamSchedule",
    "SeedImage",
    "get_seed_image",
    "list_seed_images",
    "parse_prompt",
    "pipeline_clip_maker",
]
