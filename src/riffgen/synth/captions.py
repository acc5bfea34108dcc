"""Captions in varied wording for a :class:`ClipSpec`: paraphrase templates and synonyms.

Every template names the lead instrument and states the tempo (a tempo word, the BPM, or
both), so a caption is always true of its clip. Templates have stable integer ids so that
some can be held out of training (see :mod:`riffgen.synth.split`).
"""

from __future__ import annotations

import re

import numpy as np

from riffgen.synth.compose import ClipSpec, PartSpec
from riffgen.synth.instruments import FAMILIES, GROOVES

# {lead_a}: "violin melody"; {lead_b}: "melody played on the violin". {key} and {acc} are
# complete optional phrases (" in A minor", " with drums and bass") or empty.
TEMPLATES: tuple[str, ...] = (
    "a {tempo} {mood} {lead_a}{key}{acc}",
    "{lead_a}, {tempo} and {mood}{key}{acc}",
    "{mood} {lead_b}, {pace} tempo{acc}",
    "{mood} {lead_a} at {bpm} bpm{key}{acc}",
    "{lead_b}{key}, {bpm} BPM, {mood} feel{acc}",
    "{tempo} {lead_a}{acc}",
    "instrumental: {mood} {lead_a}{key}, {tempo}{acc}",
    "{lead_a}{acc}. {tempo}, {mood}, {bpm} bpm",
    "an instrumental {lead_a} with a {mood} mood at a {pace} pace{key}{acc}",
    "{tempo} and {mood}: {lead_b}{acc}",
    "{mood} {tempo} {lead_a}{key}{acc}",
    "{lead_a} in a {mood} mood, {pace} tempo, {bpm} bpm{acc}",
)

TEMPO_WORDS: dict[str, tuple[str, ...]] = {
    "slow": ("slow", "laid-back", "unhurried", "slow-paced", "leisurely"),
    "medium": ("mid-tempo", "moderate", "steady", "medium-tempo", "moderately paced"),
    "fast": ("fast", "upbeat", "energetic", "driving", "quick", "up-tempo"),
}
# Words that read well before "tempo" or "pace".
PACE_WORDS: dict[str, tuple[str, ...]] = {
    "slow": ("slow", "relaxed", "leisurely"),
    "medium": ("moderate", "medium", "steady"),
    "fast": ("fast", "quick", "brisk"),
}
MOOD_WORDS: dict[tuple[str | None, str], tuple[str, ...]] = {
    ("major", "slow"): ("peaceful", "calm", "gentle", "tender", "warm"),
    ("major", "fast"): ("happy", "bright", "cheerful", "joyful", "uplifting", "sunny"),
    ("minor", "slow"): ("sad", "melancholic", "somber", "mournful", "gloomy"),
    ("minor", "fast"): ("dark", "tense", "dramatic", "stormy", "brooding"),
    ("dorian", "slow"): ("wistful", "soulful", "mysterious", "cool"),
    ("mixolydian", "slow"): ("bluesy", "groovy", "carefree", "easygoing"),
    (None, "slow"): ("punchy", "tight", "groovy", "hard-hitting", "crisp"),
}
STYLE_WORDS: dict[str, tuple[str, ...]] = {
    "melody": ("melody", "tune", "melodic line", "lead line"),
    "chords": ("chords", "chord progression", "chordal accompaniment", "chord pattern"),
    "arpeggio": ("arpeggio", "arpeggios", "arpeggiated pattern", "broken chords"),
    "riff": ("riff", "repeating riff", "ostinato", "riff"),
    "beat": ("beat", "groove", "rhythm", "pattern"),
}
# Words for a family in front of a noun ("drum beat"), where they differ from its names.
ATTRIBUTIVE: dict[str, tuple[str, ...]] = {
    "drums": ("drum", "drum kit", "drum-kit"),
    "strings": ("string", "string section", "orchestral string"),
    "choir": ("choir", "choral", "vocal"),
}
KEY_FORMS = (" in {k} {m}", " in {k} {m}", " in the key of {k} {m}", ", {k} {m}")
ACC_FORMS = (" with {x}", ", backed by {x}", " over {x}", " accompanied by {x}")

# Every word a caption may use to state each tempo band (tests and evaluation use these).
TEMPO_VOCABULARY: dict[str, frozenset[str]] = {
    band: frozenset(TEMPO_WORDS[band]) | frozenset(PACE_WORDS[band]) for band in TEMPO_WORDS
}


def _pick(rng: np.random.Generator, items):
    items = list(items)
    return items[int(rng.integers(len(items)))]


def mood_words(mode: str | None, band: str) -> tuple[str, ...]:
    """Mood adjectives that fit ``mode`` (None: drums only) at tempo ``band``."""
    speed = "slow" if band == "slow" else "fast"
    return MOOD_WORDS.get((mode, speed)) or MOOD_WORDS.get((mode, "slow")) or ()


def _lead_a(rng, part: PartSpec, spec: ClipSpec) -> str:
    words = ATTRIBUTIVE.get(part.family, FAMILIES[part.family].words)
    phrase = f"{_pick(rng, words)} {_pick(rng, STYLE_WORDS[part.style])}"
    if part.family == "drums" and spec.groove and rng.random() < 0.7:
        phrase = f"{_pick(rng, GROOVES[spec.groove][0])} {phrase}"
    return phrase


def _lead_b(rng, part: PartSpec, spec: ClipSpec) -> str:
    style = _pick(rng, STYLE_WORDS[part.style])
    if part.family == "drums" and spec.groove and rng.random() < 0.7:
        style = f"{_pick(rng, GROOVES[spec.groove][0])} {style}"
    verb = _pick(rng, ("played on the", "on the", "played by the", "on"))
    return f"{style} {verb} {_pick(rng, FAMILIES[part.family].words)}"


def _accompaniment(rng, spec: ClipSpec) -> str:
    names = []
    for part in spec.parts[1:]:
        word = _pick(rng, FAMILIES[part.family].words)
        if part.family == "drums" and spec.groove and rng.random() < 0.4:
            word = f"{_pick(rng, GROOVES[spec.groove][0])} drums"
        elif part.style == "chords" and rng.random() < 0.3 and part.family not in ("strings",):
            word = f"{word} chords"
        names.append(word)
    if not names:
        return ""
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return _pick(rng, ACC_FORMS).format(x=joined)


def _fix_articles(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        article = "an" if m.group(2)[0].lower() in "aeiou" else "a"
        return f"{m.group(1)}{article} {m.group(2)}"

    return re.sub(r"(^|\s)an? ([A-Za-z])", repl, text)


def caption(spec: ClipSpec, rng: np.random.Generator, *, template: int | None = None) -> str:
    """A caption for ``spec`` using paraphrase ``template`` (an id; random when None)."""
    if template is None:
        template = int(rng.integers(len(TEMPLATES)))
    if not 0 <= template < len(TEMPLATES):
        raise ValueError(f"template id must be 0..{len(TEMPLATES) - 1}, got {template}")
    band = spec.tempo
    key = ""
    if spec.key is not None and spec.mode is not None:
        key = _pick(rng, KEY_FORMS).format(k=spec.key, m=spec.mode)
    fields = {
        "tempo": _pick(rng, TEMPO_WORDS[band]),
        "pace": _pick(rng, PACE_WORDS[band]),
        "mood": _pick(rng, mood_words(spec.mode, band)),
        "lead_a": _lead_a(rng, spec.lead, spec),
        "lead_b": _lead_b(rng, spec.lead, spec),
        "bpm": str(spec.bpm),
        "key": key,
        "acc": _accompaniment(rng, spec),
    }
    text = TEMPLATES[template].format(**fields)
    text = re.sub(r"\s+", " ", text).strip()
    return _fix_articles(text)
