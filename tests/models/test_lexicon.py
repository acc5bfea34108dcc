"""The instrument lexicon: names musicians use get their family's caption words added."""

from __future__ import annotations

import numpy as np
import pytest

from riffgen.models.lexicon import FAMILY_WORDS, NAMES, expand_names, family_of
from riffgen.synth.captions import (
    PROGRAM_NAMES,
    TEMPLATES,
    caption,
    family_phrases,
    with_program_names,
)
from riffgen.synth.compose import sample_spec
from riffgen.synth.instruments import FAMILIES


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a Stratocaster riff", "a Stratocaster electric guitar riff"),
        ("riff on the strats", "riff on the strats electric guitar"),
        ("Hammond B3 chords", "Hammond B3 organ chords"),
        ("a Minimoog melody over 808s", "a Minimoog synth lead melody over 808s drums"),
        # names side by side are one instrument, named once, after the last
        ("a Juno wash", "a Juno wash synth pad"),
        ("trap hi-hats and kicks", "trap hi-hats and kicks drums"),
        # a distortion word or a distorted name before a guitar name: the distorted guitar
        ("a high-gain Les Paul riff", "a high-gain Les Paul distorted guitar riff"),
        ("a metal axe riff", "a metal axe distorted guitar riff"),
        ("a clean axe riff", "a clean axe electric guitar riff"),
        # "-style" and possessives stay attached to the name
        ("a Coltrane-style solo", "a Coltrane-style saxophone solo"),
        ("Moog's lead line", "Moog's lead line"),
    ],
)
def test_expand_names_adds_the_family_words(prompt: str, expected: str) -> None:
    assert expand_names(prompt) == expected


@pytest.mark.parametrize(
    "prompt",
    [
        "Hammond organ chords",  # the family is named right after
        "upright bass walking line",  # the name holds the family word
        "a stratospheric ambient pad",  # a name inside a word is no name
        "sad piano melody at 80 bpm",
        "",
    ],
)
def test_expand_names_leaves_named_instruments_alone(prompt: str) -> None:
    assert expand_names(prompt) == prompt


def test_training_captions_read_the_same_after_expansion() -> None:
    # Generation must see the words training saw: no caption phrase is a lexicon name.
    rng = np.random.default_rng(0)
    for i in range(400):
        spec = sample_spec(rng)
        text = caption(spec, rng, template=i % len(TEMPLATES))
        for shown in (text, with_program_names(text, spec, rng)):
            assert expand_names(shown) == shown, shown


def test_no_name_is_a_caption_phrase_or_program_name() -> None:
    phrases = {p.lower() for f in FAMILIES for p in family_phrases(f)}
    phrases |= {n.lower() for progs in PROGRAM_NAMES.values() for ns in progs.values() for n in ns}
    assert not phrases & {n for names in NAMES.values() for n in names}
    assert set(NAMES) == set(FAMILY_WORDS) == set(FAMILIES)
    for family, words in FAMILY_WORDS.items():
        assert words in FAMILIES[family].words


def test_every_name_maps_to_one_family() -> None:
    seen: dict[str, str] = {}
    for family, names in NAMES.items():
        for name in names:
            assert name == name.lower().strip(), name
            assert seen.setdefault(name, family) == family, name
            assert family_of(name.upper()) == family
    assert family_of("kazoo") is None
