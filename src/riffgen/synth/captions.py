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

# The General MIDI name of each program the families use (drum kits: GM2 kit presets), as a
# caption says it. Training captions name the exact instrument this way in part of the
# clips (PROGRAM_NAME_RATE), so "tenor sax", "church organ" or "808 kit" in a prompt ask for
# what they name, and the model learns more than one word for each family.
PROGRAM_NAMES: dict[str, dict[int, tuple[str, ...]]] = {
    "piano": {0: ("acoustic grand piano",), 1: ("bright acoustic piano", "bright piano")},
    "organ": {16: ("drawbar organ",), 17: ("percussive organ",), 19: ("church organ", "pipe organ")},
    "acoustic_guitar": {24: ("nylon-string guitar", "classical guitar"), 25: ("steel-string guitar",)},
    "electric_guitar": {26: ("jazz guitar",), 27: ("clean electric guitar",)},
    "distorted_guitar": {29: ("overdriven guitar",), 30: ("distortion guitar",)},
    "bass": {32: ("acoustic bass", "double bass"), 33: ("fingered bass",), 34: ("picked bass",)},
    "violin": {40: ("violin",)},
    "strings": {48: ("string ensemble",), 49: ("lush string ensemble",)},
    "brass": {61: ("brass section",), 56: ("trumpet",), 57: ("trombone",)},
    "saxophone": {65: ("alto sax", "alto saxophone"), 66: ("tenor sax", "tenor saxophone")},
    "flute": {73: ("flute",)},
    "synth_lead": {80: ("square lead", "square wave synth"), 81: ("sawtooth lead", "saw synth")},
    "synth_pad": {89: ("warm pad",), 88: ("new age pad",), 90: ("polysynth pad",)},
    "choir": {52: ("choir aahs",), 53: ("voice oohs",)},
    "drums": {0: ("standard drum kit",), 8: ("room drum kit",), 16: ("power drum kit",), 25: ("808 drum machine", "TR-808")},
}  # fmt: skip
PROGRAM_NAME_RATE = 0.5  # the share of training captions that name programs, not families

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
        article = "an" if m.group(2)[0].lower() in "aeiou8" else "a"
        return f"{m.group(1)}{article} {m.group(2)}"

    return re.sub(r"(^|\s)an? ([A-Za-z0-9])", repl, text)


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


def family_phrases(family: str) -> tuple[str, ...]:
    """Every phrase a template caption may use for ``family`` (names and attributive forms)."""
    return tuple(dict.fromkeys(FAMILIES[family].words + ATTRIBUTIVE.get(family, ())))


def rename_instruments(text: str, names: dict[str, str]) -> str:
    """``text`` with every phrase of each family in ``names`` (:func:`family_phrases`)
    replaced by ``names[family]``; articles before the new names are fixed."""
    owners = {w.lower(): f for f in names for w in family_phrases(f)}
    if not owners:
        return text
    # Longest first: "clean electric guitar" before "electric guitar", "drum kit" before "drum".
    pattern = re.compile(
        r"(?<![\w-])("
        + "|".join(re.escape(w) for w in sorted(owners, key=len, reverse=True))
        + r")(?![\w-])",
        re.IGNORECASE,
    )
    return _fix_articles(pattern.sub(lambda m: names[owners[m.group(1).lower()]], text))


def with_program_names(text: str, spec: ClipSpec, rng: np.random.Generator) -> str:
    """``text`` naming each family by the GM name of the program that plays it
    (:data:`PROGRAM_NAMES`; the first part of a family decides)."""
    names: dict[str, str] = {}
    for part in spec.parts:
        if part.family not in names:
            names[part.family] = _pick(rng, PROGRAM_NAMES[part.family][part.program])
    return rename_instruments(text, names)
