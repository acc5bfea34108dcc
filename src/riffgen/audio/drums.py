"""Deterministic drum-machine synthesis for riffgen's seed images and tempo seeds (numpy only).

Each pattern is one bar of 16 sixteenth-note steps (or a shorter loop) rendered at an exact
tempo, starting on the downbeat, so the seed image's beat grid is known: the jam engine uses
the tempo and ``loop_beats`` to cut clips on whole pattern loops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SAMPLE_RATE = 44100


def _t(seconds: float, sr: int) -> np.ndarray:
    return np.arange(int(seconds * sr), dtype=np.float64) / sr


def kick(sr: int = SAMPLE_RATE, *, soft: bool = False) -> np.ndarray:
    """Sine with a fast downward pitch sweep (150 -> 45 Hz) and a short click."""
    t = _t(0.4, sr)
    freq = 45.0 + 110.0 * np.exp(-t / 0.03)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / (0.09 if soft else 0.14))
    click = np.exp(-t / 0.002) * (0.0 if soft else 0.3)
    return body + click


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n)


def _highpass(x: np.ndarray, order: int = 1) -> np.ndarray:
    for _ in range(order):
        x = np.diff(x, prepend=0.0)
    return x


def snare(rng: np.random.Generator, sr: int = SAMPLE_RATE, *, level: float = 1.0) -> np.ndarray:
    t = _t(0.25, sr)
    noise = _highpass(_noise(t.size, rng)) * 0.6 * np.exp(-t / 0.07)
    tone = np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.04) * 0.7
    return level * (noise + tone)


def rim(rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    t = _t(0.06, sr)
    return (
        (np.sin(2 * np.pi * 820 * t) + 0.3 * _highpass(_noise(t.size, rng)))
        * np.exp(-t / 0.012)
        * 0.6
    )


def hat(
    rng: np.random.Generator, sr: int = SAMPLE_RATE, *, open_: bool = False, level: float = 1.0
) -> np.ndarray:
    t = _t(0.3 if open_ else 0.06, sr)
    noise = _highpass(_noise(t.size, rng), order=2) * 0.35
    return level * noise * np.exp(-t / (0.09 if open_ else 0.012))


def shaker(rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    t = _t(0.09, sr)
    env = np.sin(np.pi * np.clip(t / 0.09, 0, 1)) ** 2
    return _highpass(_noise(t.size, rng), order=2) * 0.18 * env


def _midi_hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def bass(note: int, sr: int = SAMPLE_RATE, *, length: float = 0.3) -> np.ndarray:
    t = _t(length, sr)
    f = _midi_hz(note)
    env = np.minimum(1.0, t / 0.005) * np.exp(-t / (length * 0.6))
    return (np.sin(2 * np.pi * f * t) + 0.35 * np.sin(4 * np.pi * f * t)) * env * 0.8


def marimba(note: int, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Bar-like partials (1, 3.9, 9.2 x f) with fast-decaying uppers."""
    t = _t(0.6, sr)
    f = _midi_hz(note)
    partials = [(1.0, 1.0, 0.35), (3.9, 0.35, 0.08), (9.2, 0.12, 0.03)]
    tone = sum(
        a * np.sin(2 * np.pi * f * m * t) * np.exp(-t / d) for m, a, d in partials if f * m < 10000
    )
    return tone * np.minimum(1.0, t / 0.002) * 0.5


def vibraphone(notes: tuple[int, ...], sr: int = SAMPLE_RATE, *, length: float = 1.4) -> np.ndarray:
    """A soft chord with 5 Hz tremolo, the 'vibes' colour."""
    t = _t(length, sr)
    tremolo = 1 - 0.35 * (0.5 + 0.5 * np.sin(2 * np.pi * 5 * t))
    chord = sum(
        np.sin(2 * np.pi * _midi_hz(n) * t) + 0.2 * np.sin(2 * np.pi * 4 * _midi_hz(n) * t)
        for n in notes
    )
    return chord * tremolo * np.exp(-t / 0.8) * np.minimum(1.0, t / 0.004) * 0.25


@dataclass(frozen=True)
class Pattern:
    """One loop of ``steps`` sixteenth notes; each voice lists the steps it plays on."""

    name: str
    feel: str
    bpm: float
    description: str
    steps: int = 16
    loop_beats: int = 4
    kick: tuple[int, ...] = ()
    soft_kick: bool = False
    snare: tuple[int, ...] = ()
    ghost: tuple[int, ...] = ()
    rim: tuple[int, ...] = ()
    hat: tuple[int, ...] = ()
    open_hat: tuple[int, ...] = ()
    shaker: tuple[int, ...] = ()
    bass: tuple[tuple[int, int], ...] = ()  # (step, midi note)
    marimba: tuple[tuple[int, int], ...] = ()
    vibes: tuple[tuple[int, tuple[int, ...]], ...] = ()
    aliases: tuple[str, ...] = field(default=())


def render(
    pattern: Pattern, *, num_samples: int, sample_rate: int = SAMPLE_RATE, seed: int = 0
) -> np.ndarray:
    """Audio ``[num_samples]`` float32 of ``pattern`` repeated from sample 0, peak 0.9."""
    rng = np.random.default_rng(seed)
    step_s = 60.0 / pattern.bpm / 4
    loop_s = step_s * pattern.steps
    out = np.zeros(num_samples + sample_rate, dtype=np.float64)

    def place(start_s: float, sound: np.ndarray) -> None:
        i = int(round(start_s * sample_rate))
        if i < num_samples:
            out[i : i + sound.size] += sound[: out.size - i]

    # Sounds are synthesised once per voice so every loop repeats exactly (a periodic seed).
    sounds = {
        "kick": kick(sample_rate, soft=pattern.soft_kick),
        "snare": snare(rng, sample_rate),
        "ghost": snare(rng, sample_rate, level=0.25),
        "rim": rim(rng, sample_rate),
        "hat": hat(rng, sample_rate),
        "open_hat": hat(rng, sample_rate, open_=True, level=0.8),
        "shaker": shaker(rng, sample_rate),
    }
    loops = int(np.ceil(num_samples / sample_rate / loop_s)) + 1
    for k in range(loops):
        base = k * loop_s
        for voice, sound in sounds.items():
            for step in getattr(pattern, voice):
                place(base + step * step_s, sound)
        for step, note in pattern.bass:
            place(base + step * step_s, bass(note, sample_rate, length=min(0.45, 2 * step_s)))
        for step, note in pattern.marimba:
            place(base + step * step_s, marimba(note, sample_rate))
        for step, chord in pattern.vibes:
            place(base + step * step_s, vibraphone(chord, sample_rate))
    audio = out[:num_samples]
    peak = np.abs(audio).max()
    return (audio * (0.9 / peak if peak > 0 else 1.0)).astype(np.float32)


def backbeat(bpm: float) -> Pattern:
    """The straight backbeat of the ``beat_*`` seed images, at any tempo (BPM)."""
    bpm = int(bpm) if float(bpm).is_integer() else float(bpm)
    return Pattern(
        name=f"beat_{bpm}",
        feel="beat",
        bpm=float(bpm),
        description=f"Straight backbeat at {bpm} BPM: kick on 1, snare on 2, eighth-note hats, bass pulse.",
        steps=8,
        loop_beats=2,
        kick=(0,),
        snare=(4,),
        hat=(0, 2, 4, 6),
        bass=((0, 33), (3, 33)),
        aliases=("og_beat",) if bpm == 100 else (),
    )


#: Everything ``scripts/make_seed_images.py`` renders, in registry order.
CATALOG: tuple[Pattern, ...] = (
    *(backbeat(b) for b in (80, 100, 120, 140, 160)),
    Pattern(
        name="four_floor_120",
        feel="four_floor",
        bpm=120.0,
        description="Driving four-on-the-floor at 120 BPM: kick every beat, offbeat open hats, claps on 2 and 4, eighth-note bass.",
        steps=8,
        loop_beats=2,
        kick=(0, 4),
        snare=(4,),
        open_hat=(2, 6),
        hat=(1, 3, 5, 7),
        bass=((0, 36), (2, 36), (4, 36), (6, 36)),
    ),
    Pattern(
        name="four_floor_140",
        feel="four_floor",
        bpm=140.0,
        description="Motorway pulse at 140 BPM: relentless kick, offbeat hats, sixteenth-note bass.",
        steps=4,
        loop_beats=1,
        kick=(0,),
        open_hat=(2,),
        hat=(1, 3),
        bass=((0, 38), (1, 38), (2, 38), (3, 38)),
        aliases=("motorway",),
    ),
    Pattern(
        name="breakbeat_160",
        feel="breakbeat",
        bpm=160.0,
        description="Agile syncopated breakbeat at 160 BPM: displaced kicks, ghost snares, sixteenth hats.",
        steps=16,
        loop_beats=4,
        kick=(0, 6, 10),
        snare=(4, 12),
        ghost=(7, 9, 15),
        hat=tuple(range(16)),
        bass=((0, 31), (6, 31), (10, 34)),
        aliases=("agile",),
    ),
    Pattern(
        name="marimba_100",
        feel="marimba",
        bpm=100.0,
        description="Marimba arpeggio at 100 BPM over a soft kick and shaker.",
        steps=16,
        loop_beats=4,
        kick=(0, 8),
        soft_kick=True,
        shaker=(2, 6, 10, 14),
        marimba=((0, 60), (2, 64), (4, 67), (6, 72), (8, 69), (10, 67), (12, 64), (14, 62)),
        aliases=("marim",),
    ),
    Pattern(
        name="vibes_80",
        feel="vibes",
        bpm=80.0,
        description="Laid-back 80 BPM groove: soft kick, rim on 2, shaker, vibraphone chords.",
        steps=8,
        loop_beats=2,
        kick=(0,),
        soft_kick=True,
        rim=(4,),
        shaker=(1, 3, 5, 7),
        vibes=((0, (57, 60, 64, 67)),),
        bass=((0, 33),),
        aliases=("vibes",),
    ),
)
