"""Synthetic training data: composed MIDI rendered with FluidSynth, captioned and labelled."""

from riffgen.synth.captions import TEMPLATES, TEMPO_VOCABULARY, caption
from riffgen.synth.compose import CLIP_SECONDS, ClipSpec, PartSpec, compose, sample_spec
from riffgen.synth.dataset import (
    Clip,
    clip_seed,
    generate_clip,
    prompt_set,
    read_metadata,
    write_dataset,
)
from riffgen.synth.instruments import FAMILIES, FAMILY_NAMES, STYLES
from riffgen.synth.render import fluidsynth_available, normalize_level, render_midi
from riffgen.synth.split import DEFAULT_HOLDOUT, NO_HOLDOUT, Holdout, subset_of

__all__ = [
    "CLIP_SECONDS",
    "DEFAULT_HOLDOUT",
    "FAMILIES",
    "FAMILY_NAMES",
    "NO_HOLDOUT",
    "STYLES",
    "TEMPLATES",
    "TEMPO_VOCABULARY",
    "Clip",
    "ClipSpec",
    "Holdout",
    "PartSpec",
    "caption",
    "clip_seed",
    "compose",
    "fluidsynth_available",
    "generate_clip",
    "normalize_level",
    "prompt_set",
    "read_metadata",
    "render_midi",
    "sample_spec",
    "subset_of",
    "write_dataset",
]
