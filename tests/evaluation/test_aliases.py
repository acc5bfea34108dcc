"""The heldout_words prompt set: instrument names no training caption uses."""

from __future__ import annotations

import re

import numpy as np
import pytest

from riffgen.evaluation.adherence import held_out_clips
from riffgen.evaluation.aliases import ALIASES, BLIND_ALIASES, reword
from riffgen.synth import prompt_set
from riffgen.synth.captions import PROGRAM_NAMES
from riffgen.synth.captions import family_phrases as family_words
from riffgen.synth.instruments import FAMILIES


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


@pytest.mark.parametrize("table", [ALIASES, BLIND_ALIASES], ids=["heldout", "blind"])
def test_every_family_has_aliases_sharing_no_word_with_any_caption_name(table):
    assert set(table) == set(FAMILIES)
    names = [n for f in FAMILIES for ns in PROGRAM_NAMES[f].values() for n in ns]
    phrases = [w for f in FAMILIES for w in family_words(f)] + names
    caption_words = set().union(*(_words(w) for w in phrases))
    for family, aliases in table.items():
        assert len(aliases) >= 3, family
        for alias in aliases:
            shared = _words(alias) & caption_words
            assert not shared, f"{family}: {alias!r} shares {shared} with training captions"


@pytest.mark.parametrize("index", range(40))
def test_reword_removes_every_instrument_name_and_keeps_the_rest(index):
    clip = prompt_set("seen", n=40, seed=1)[index]
    families = clip.label["families"]
    text = reword(clip.caption, families, np.random.default_rng(index))
    for family in families:
        for word in family_words(family):
            assert not re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, re.I), (
                f"{word!r} left in {text!r}"
            )
    assert any(alias in text for alias in ALIASES[families[0]]), text
    # the tempo words and BPM survive: the tempo part of the evaluation still applies
    assert re.findall(r"\d+ bpm", clip.caption, re.I) == re.findall(r"\d+ bpm", text, re.I)


def test_reword_fixes_articles():
    text = reword("a fast organ riff", ["organ"], np.random.default_rng(0))
    assert not re.search(r"\ban [^aeiou8\W]", text, re.I) and not re.search(r"\ba [aeiou]", text)


@pytest.mark.parametrize(("name", "offset"), [("heldout_words", 1), ("blind_words", 2)])
def test_reworded_sets_are_new_clips_reworded(name, offset):
    seen = held_out_clips("seen", n=3, dataset_seed=0)
    words = held_out_clips(name, n=3, dataset_seed=0)
    assert {c.seed for c in seen}.isdisjoint(c.seed for c in words)
    plain = prompt_set("seen", n=3, seed=offset)
    table = ALIASES if name == "heldout_words" else BLIND_ALIASES
    for reworded, original in zip(words, plain, strict=True):
        assert reworded.seed == original.seed and reworded.caption != original.caption
        assert any(a in reworded.caption for a in table[original.label["families"][0]])
        assert reworded.audio is not None and reworded.audio.size > 0
