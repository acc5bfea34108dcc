"""Instrument names no training caption uses: synonyms, slang and model names.

The ``heldout_words`` prompt set of ``riffgen evaluate`` takes clips of the synthetic
dataset and rewrites each instrument name of their captions with one of these, so it asks
whether the model follows a prompt worded as a musician would word it ("a Stratocaster riff",
"Hammond B3 chords", "808s") rather than as the caption templates do. None of these phrases
shares a word with any family's caption words (a test checks it), so the text encoder has
to know that a Strat is an electric guitar; the model never saw the word in training.
"""

from __future__ import annotations

import re

import numpy as np

from riffgen.synth.captions import ATTRIBUTIVE
from riffgen.synth.instruments import FAMILIES

__all__ = ["ALIASES", "reword"]

# Each phrase reads both before a noun ("Strat riff") and after "the" ("riff on the Strat").
ALIASES: dict[str, tuple[str, ...]] = {
    "piano": ("Steinway", "ivories", "Yamaha upright", "honky-tonk upright"),
    "organ": ("Hammond B3", "Hammond", "tonewheel B3", "church pipes"),
    "acoustic_guitar": ("Martin dreadnought", "Gibson J-45", "campfire strummer"),
    "electric_guitar": ("Stratocaster", "Telecaster", "Strat", "hollow-body jazz box"),
    "distorted_guitar": ("fuzz axe", "high-gain Les Paul", "metal axe", "shredding axe"),
    "bass": ("Fender Precision", "Music Man StingRay", "Rickenbacker 4003", "Jaco-style fretless"),
    "violin": ("Stradivarius", "Strad", "Paganini caprice player"),
    "strings": ("cellos and violas", "chamber orchestra", "symphony orchestra"),
    "brass": ("trumpets and trombones", "mariachi trumpets", "trombones"),
    "saxophone": ("Coltrane-style tenor", "bebop alto", "honking tenor"),
    "flute": ("piccolo", "fife", "Jethro Tull woodwind"),
    "synth_lead": ("Minimoog", "Moog", "sawtooth whine", "chiptune square wave"),
    "synth_pad": ("Juno wash", "Jupiter-8 swell", "shimmering wash", "analog drone"),
    "choir": ("choristers", "gospel singers", "chanting monks", "cathedral singers"),
    "drums": ("808s", "breakbeats", "Ludwig four-piece", "trap hi-hats and kicks"),
}


def family_words(family: str) -> tuple[str, ...]:
    """Every phrase a training caption may use for ``family`` (names and attributive forms)."""
    return tuple(dict.fromkeys(FAMILIES[family].words + ATTRIBUTIVE.get(family, ())))


def reword(caption: str, families: tuple[str, ...] | list[str], rng: np.random.Generator) -> str:
    """``caption`` with every caption word of ``families`` replaced by an alias of its family
    (one alias per family, picked by ``rng``, so "drums" and "drum" read alike)."""
    chosen = {f: ALIASES[f][int(rng.integers(len(ALIASES[f])))] for f in dict.fromkeys(families)}
    owners = {w.lower(): f for f in chosen for w in family_words(f)}
    # Longest first: "clean electric guitar" before "electric guitar", "drum kit" before "drum".
    pattern = re.compile(
        r"(?<![\w-])("
        + "|".join(re.escape(w) for w in sorted(owners, key=len, reverse=True))
        + r")(?![\w-])",
        re.IGNORECASE,
    )
    text = pattern.sub(lambda m: chosen[owners[m.group(1).lower()]], caption)
    return re.sub(r"(^|\s)an? (?=[A-Za-z0-9])", lambda m: _article(m, text), text)


def _article(match: re.Match[str], text: str) -> str:
    nxt = text[match.end() :]
    article = "an" if nxt[:1].lower() in "aeiou" or nxt.startswith("8") else "a"
    return f"{match.group(1)}{article} "
