"""Instrument families: General MIDI programs, playable ranges, styles and caption words."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """A family of General MIDI programs that a listener would name with the same words.

    ``programs`` are 0-based GM programs (drum-kit presets for drums); ``low``/``high`` the
    MIDI note range the family plays in; ``styles`` the styles it can lead; ``words`` the
    names a caption may use (every word is true of every program in the family).
    """

    name: str
    programs: tuple[int, ...]
    low: int
    high: int
    styles: tuple[str, ...]
    words: tuple[str, ...]
    sustained: bool = False  # bowed/blown/held: long notes sound natural
    drums: bool = False


STYLES = ("melody", "chords", "arpeggio", "riff", "beat")

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "piano",
            (0, 1),
            45,
            84,
            ("melody", "chords", "arpeggio", "riff"),
            ("piano", "grand piano", "acoustic piano", "piano keys"),
        ),
        Family(
            "organ",
            (16, 17, 19),
            48,
            84,
            ("melody", "chords", "riff"),
            ("organ", "organ", "electric organ", "keyboard organ"),
            sustained=True,
        ),
        Family(
            "acoustic_guitar",
            (24, 25),
            40,
            76,
            ("melody", "chords", "arpeggio"),
            ("acoustic guitar", "acoustic guitar", "unplugged guitar", "folk guitar"),
        ),
        Family(
            "electric_guitar",
            (26, 27),
            40,
            79,
            ("melody", "chords", "arpeggio", "riff"),
            ("electric guitar", "clean electric guitar", "clean guitar"),
        ),
        Family(
            "distorted_guitar",
            (29, 30),
            40,
            72,
            ("chords", "riff"),
            ("distorted guitar", "overdriven guitar", "heavy guitar", "crunchy electric guitar"),
        ),
        Family(
            "bass",
            (32, 33, 34),
            28,
            52,
            ("melody", "riff"),
            ("bass", "bass guitar", "electric bass"),
        ),
        Family(
            "violin",
            (40,),
            55,
            93,
            ("melody", "arpeggio"),
            ("violin", "fiddle", "solo violin"),
            sustained=True,
        ),
        Family(
            "strings",
            (48, 49),
            43,
            84,
            ("melody", "chords"),
            ("strings", "string section", "string ensemble", "orchestral strings"),
            sustained=True,
        ),
        Family(
            "brass",
            (61, 56, 57),
            48,
            79,
            ("melody", "chords", "riff"),
            ("brass", "horns", "brass section"),
            sustained=True,
        ),
        Family(
            "saxophone",
            (65, 66),
            49,
            80,
            ("melody", "riff"),
            ("saxophone", "sax", "smooth sax"),
            sustained=True,
        ),
        Family(
            "flute",
            (73,),
            60,
            96,
            ("melody", "arpeggio"),
            ("flute", "flute", "airy flute"),
            sustained=True,
        ),
        Family(
            "synth_lead",
            (80, 81),
            55,
            86,
            ("melody", "arpeggio", "riff"),
            ("synth lead", "lead synth", "synthesizer lead", "synth"),
            sustained=True,
        ),
        Family(
            "synth_pad",
            (89, 88, 90),
            48,
            79,
            ("chords",),
            ("synth pad", "ambient pad", "warm pad", "pad synth"),
            sustained=True,
        ),
        Family(
            "choir",
            (52, 53),
            52,
            79,
            ("melody", "chords"),
            ("choir", "voices", "vocal choir", "choral voices"),
            sustained=True,
        ),
        Family(
            "drums",
            (0, 8, 16, 25),
            35,
            81,
            ("beat",),
            ("drums", "drum kit", "drum set", "percussion"),
            drums=True,
        ),
    )
}

FAMILY_NAMES: tuple[str, ...] = tuple(FAMILIES)


def family(name: str) -> Family:
    """The family called ``name`` (KeyError names the valid ones)."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(
            f"unknown instrument family {name!r}; known: {', '.join(FAMILIES)}"
        ) from None


def lead_combinations() -> list[tuple[str, str]]:
    """Every (family, style) pair a clip can lead with, in a fixed order."""
    return [(f.name, s) for f in FAMILIES.values() for s in f.styles]


# Drum grooves: which caption genre words fit, and the tempo range (BPM) they are played at.
GROOVES: dict[str, tuple[tuple[str, ...], int, int]] = {
    "rock": (("rock",), 80, 160),
    "punk": (("punk",), 150, 180),
    "four_on_floor": (("disco", "dance", "house"), 110, 135),
    "hiphop": (("hip-hop", "boom-bap"), 70, 100),
    "halftime": (("half-time", "heavy"), 60, 120),
    "funk": (("funk", "funky"), 90, 120),
}
