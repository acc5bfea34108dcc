"""Instrument names no training caption uses: synonyms, slang and model names.

The ``heldout_words`` prompt set of ``riffgen evaluate`` takes clips of the synthetic
dataset and rewrites each instrument name of their captions with one of these, so it asks
whether the model follows a prompt worded as a musician would word it ("a Stratocaster riff",
"Hammond B3 chords", "808s") rather than as the caption templates do. None of these phrases
shares a word with any family's caption words or GM program names (a test checks it), so the text encoder has
to know that a Strat is an electric guitar; the model never saw the word in training.

``BLIND_ALIASES`` (the ``blind_words`` set, ``src/riffgen/data/evaluation/blind_aliases.json``)
are 8 more names per family, written by a helper session that saw neither these nor the
instrument lexicon (:mod:`riffgen.models.lexicon`), after the lexicon was committed: the
lexicon's authors knew the names above, so only this set measures how far the lexicon carries
to names nobody tuned it for.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np

from riffgen.synth.captions import rename_instruments

__all__ = ["ALIASES", "BLIND_ALIASES", "reword"]

# Each phrase reads both before a noun ("Strat riff") and after "the" ("riff on the Strat").
ALIASES: dict[str, tuple[str, ...]] = {
    "piano": ("Steinway", "ivories", "Yamaha upright", "honky-tonk upright"),
    "organ": ("Hammond B3", "Hammond", "tonewheel B3", "Leslie-spun Hammond"),
    "acoustic_guitar": ("Martin dreadnought", "Gibson J-45", "campfire strummer"),
    "electric_guitar": ("Stratocaster", "Telecaster", "Strat", "hollow-body archtop"),
    "distorted_guitar": ("fuzz axe", "high-gain Les Paul", "metal axe", "shredding axe"),
    "bass": ("Fender Precision", "Music Man StingRay", "Rickenbacker 4003", "Jaco-style fretless"),
    "violin": ("Stradivarius", "Strad", "Paganini caprice player"),
    "strings": ("cellos and violas", "chamber orchestra", "symphony orchestra"),
    "brass": ("trumpets and trombones", "mariachi trumpets", "trombones"),
    "saxophone": ("Charlie Parker bebop", "Selmer Mark VI", "Kenny G-style reed"),
    "flute": ("piccolo", "fife", "Jethro Tull woodwind"),
    "synth_lead": ("Minimoog", "Moog", "Prophet-5 squeal", "chiptune bleeps"),
    "synth_pad": ("Juno wash", "Jupiter-8 swell", "shimmering wash", "analog drone"),
    "choir": ("choristers", "gospel singers", "chanting monks", "cathedral singers"),
    "drums": ("808s", "breakbeats", "Ludwig four-piece", "trap hi-hats and kicks"),
}


BLIND_ALIASES: dict[str, tuple[str, ...]] = {
    family: tuple(names)
    for family, names in json.loads(
        resources.files("riffgen").joinpath("data/evaluation/blind_aliases.json").read_text()
    ).items()
}


def reword(
    caption: str,
    families: tuple[str, ...] | list[str],
    rng: np.random.Generator,
    *,
    table: dict[str, tuple[str, ...]] = ALIASES,
) -> str:
    """``caption`` with every caption word of ``families`` replaced by an alias of its family
    from ``table`` (one alias per family, picked by ``rng``, so "drums" and "drum" read alike)."""
    chosen = {f: table[f][int(rng.integers(len(table[f])))] for f in dict.fromkeys(families)}
    return rename_instruments(caption, chosen)
