"""Programmatic composition: a clip specification (the label) -> MIDI parts.

Everything draws from one ``numpy.random.Generator``, so a seed fixes the music exactly.
The music is deliberately simple (diatonic harmony, one-bar rhythm cells, stock drum
grooves): the point is clear, nameable instrument/style/tempo content, not art.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from riffgen.synth.instruments import FAMILIES, GROOVES, family, lead_combinations
from riffgen.synth.midi import DRUM_CHANNEL, TICKS_PER_BEAT, Note, Part, midi_bytes

BPM_RANGE = (60, 180)
CLIP_SECONDS = 511 * 441 / 44100  # one 512-column Riffusion image, ~5.11 s
PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
MODE_WEIGHTS = {"major": 0.4, "minor": 0.4, "dorian": 0.1, "mixolydian": 0.1}
# Chord progressions as 0-based scale degrees, one chord per harmonic step.
PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "major": ((0, 4, 5, 3), (0, 3, 4, 3), (0, 5, 3, 4), (0, 3, 0, 4), (5, 3, 0, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (0, 5, 3, 4)),
    "dorian": ((0, 3, 0, 3), (0, 6, 0, 3), (0, 3, 6, 0)),
    "mixolydian": ((0, 6, 3, 0), (0, 3, 6, 0), (0, 6, 0, 3)),
}
TEMPO_BANDS = (("slow", 60, 89), ("medium", 90, 129), ("fast", 130, 180))
GM_DRUMS = {
    "kick": 36,
    "snare": 38,
    "clap": 39,
    "closed_hat": 42,
    "open_hat": 46,
    "ride": 51,
    "crash": 49,
}


def tempo_band(bpm: float) -> str:
    """``"slow"`` (< 90 BPM), ``"medium"`` (90-129) or ``"fast"`` (>= 130)."""
    for name, _, high in TEMPO_BANDS:
        if bpm <= high:
            return name
    return "fast"


@dataclass(frozen=True)
class PartSpec:
    """One part of the arrangement: instrument family, GM program, role and style."""

    family: str
    program: int
    style: str
    role: str  # "lead" or "accompaniment"


@dataclass(frozen=True)
class ClipSpec:
    """Everything that defines a clip's music; the structured label kept with each clip.

    ``bpm`` in beats per minute; ``key`` a pitch-class name and ``mode`` a scale name, both
    ``None`` for drums-only clips; ``groove`` the drum pattern when drums play.
    """

    parts: tuple[PartSpec, ...]
    bpm: int
    key: str | None
    mode: str | None
    groove: str | None

    @property
    def lead(self) -> PartSpec:
        return self.parts[0]

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(p.family for p in self.parts)

    @property
    def style(self) -> str:
        return self.lead.style

    @property
    def tempo(self) -> str:
        return tempo_band(self.bpm)

    def to_label(self) -> dict:
        """JSON-ready label: families (lead first), style, bpm, tempo band, key, mode, ..."""
        return {
            "families": list(self.families),
            "lead": self.lead.family,
            "style": self.style,
            "bpm": self.bpm,
            "tempo": self.tempo,
            "key": self.key,
            "mode": self.mode,
            "groove": self.groove,
            "parts": [asdict(p) for p in self.parts],
        }

    @classmethod
    def from_label(cls, label: dict) -> ClipSpec:
        return cls(
            parts=tuple(PartSpec(**p) for p in label["parts"]),
            bpm=int(label["bpm"]),
            key=label["key"],
            mode=label["mode"],
            groove=label["groove"],
        )


ComboFilter = Callable[[tuple[str, str]], bool]


def _pick(rng: np.random.Generator, items, p=None):
    """A deterministic choice that returns plain Python objects (not numpy scalars)."""
    items = list(items)
    return items[int(rng.choice(len(items), p=p))]


def _groove_for_bpm(rng: np.random.Generator, bpm: int) -> str:
    fitting = [g for g, (_, lo, hi) in GROOVES.items() if lo <= bpm <= hi]
    return _pick(rng, fitting or ["rock"])


def sample_spec(rng: np.random.Generator, *, allow: ComboFilter | None = None) -> ClipSpec:
    """Draw a random arrangement. ``allow((family, style))`` restricts the lead combination."""
    combos = [c for c in lead_combinations() if allow is None or allow(c)]
    if not combos:
        raise ValueError("no (instrument, style) combination is allowed")
    # Weight so that every family leads about equally often, whatever its style count.
    per_family: dict[str, int] = {}
    for fam, _ in combos:
        per_family[fam] = per_family.get(fam, 0) + 1
    weights = np.array([1.0 / per_family[f] for f, _ in combos])
    lead_family, lead_style = _pick(rng, combos, p=weights / weights.sum())
    lead = PartSpec(lead_family, _pick(rng, family(lead_family).programs), lead_style, "lead")

    if lead_family == "drums":
        groove = _pick(rng, sorted(GROOVES))
        _, lo, hi = GROOVES[groove]
        bpm = int(rng.integers(lo, hi + 1))
    else:
        bpm = int(rng.integers(BPM_RANGE[0], BPM_RANGE[1] + 1))
        groove = None

    n_extra = _pick(rng, [0, 1, 2], p=[0.45, 0.35, 0.20])
    options = _accompaniment_options(lead)
    extras: list[PartSpec] = []
    for _ in range(n_extra):
        options = [o for o in options if o[0] not in {lead_family, *(e.family for e in extras)}]
        if lead_style == "chords" or any(e.style == "chords" for e in extras):
            options = [o for o in options if o[1] != "chords"]
        if not options:
            break
        fam, style = _pick(rng, options)
        extras.append(PartSpec(fam, _pick(rng, family(fam).programs), style, "accompaniment"))
    if groove is None and any(e.family == "drums" for e in extras):
        groove = _groove_for_bpm(rng, bpm)

    all_drums = lead_family == "drums" and all(e.family == "drums" for e in extras)
    if all_drums:
        key = mode = None
    else:
        key = _pick(rng, PITCH_CLASSES)
        modes = list(MODE_WEIGHTS)
        mode = _pick(rng, modes, p=[MODE_WEIGHTS[m] for m in modes])
    return ClipSpec(parts=(lead, *extras), bpm=bpm, key=key, mode=mode, groove=groove)


def _accompaniment_options(lead: PartSpec) -> list[tuple[str, str]]:
    """(family, style) pairs that can back ``lead``."""
    if lead.family == "drums":
        return [
            ("bass", "riff"),
            ("distorted_guitar", "riff"),
            ("distorted_guitar", "chords"),
            ("electric_guitar", "chords"),
            ("synth_pad", "chords"),
            ("piano", "chords"),
            ("organ", "chords"),
            ("synth_lead", "riff"),
        ]
    return [
        ("drums", "beat"),
        ("bass", "riff"),
        ("piano", "chords"),
        ("strings", "chords"),
        ("synth_pad", "chords"),
        ("acoustic_guitar", "chords"),
        ("organ", "chords"),
        ("electric_guitar", "chords"),
    ]


# ---------------------------------------------------------------------------------------
# Note generation


@dataclass(frozen=True)
class _Harmony:
    """Tonic MIDI pitch class, scale intervals and one chord (scale degree) per step."""

    tonic: int
    scale: tuple[int, ...]
    degrees: tuple[int, ...]
    beats_per_chord: int

    def degree_pitch(self, degree: int) -> int:
        """Pitch class offset (may exceed 12) of scale ``degree`` (any integer)."""
        octave, step = divmod(degree, 7)
        return self.tonic + self.scale[step] + 12 * octave

    def chord_at(self, beat: float) -> int:
        return self.degrees[int(beat // self.beats_per_chord) % len(self.degrees)]

    def chord_pcs(self, beat: float) -> list[int]:
        d = self.chord_at(beat)
        return [self.degree_pitch(d + 2 * k) % 12 for k in range(3)]

    def scale_pcs(self) -> set[int]:
        return {(self.tonic + s) % 12 for s in self.scale}


def _pitches_in_range(pcs, low: int, high: int) -> list[int]:
    pcs = {p % 12 for p in pcs}
    return [p for p in range(low, high + 1) if p % 12 in pcs]


def _nearest(candidates: list[int], target: float) -> int:
    return min(candidates, key=lambda p: (abs(p - target), p))


def _humanize(rng, start: int, vel: int, *, jitter: int = 8) -> tuple[int, int]:
    t = max(0, start + int(rng.integers(-jitter, jitter + 1)) if start > 0 else 0)
    return t, int(np.clip(vel + int(rng.integers(-8, 9)), 30, 127))


def _melody(rng, fam, harmony: _Harmony, total_beats: int, bpm: int) -> list[Note]:
    cells = [
        [1, 1, 1, 1],
        [0.5, 0.5, 1, 1, 1],
        [1, 0.5, 0.5, 2],
        [1.5, 0.5, 1, 1],
        [0.5, 0.5, 0.5, 0.5, 1, 1],
        [2, 1, 1],
        [1, 1, 2],
    ]
    if fam.sustained or bpm > 140:
        cells += [[2, 2], [3, 1], [2, 1, 1]]
    if bpm < 100:
        cells += [[0.5] * 8, [0.5, 0.5, 0.5, 0.5, 2]]
    scale_notes = _pitches_in_range(harmony.scale_pcs(), fam.low, fam.high)
    center = (fam.low + fam.high) / 2
    pitch_idx = scale_notes.index(_nearest(scale_notes, center))
    notes: list[Note] = []
    beat = 0.0
    while beat < total_beats:
        for length in _pick(rng, cells):
            if beat >= total_beats:
                break
            chord = harmony.chord_pcs(beat)
            step = _pick(rng, [-2, -1, -1, 0, 1, 1, 2, 3, -3])
            pitch_idx = pitch_idx + step
            # Reflect at the range ends and drift back toward the middle of the range.
            if pitch_idx < 2 or pitch_idx > len(scale_notes) - 3:
                pitch_idx -= 2 * step
            pitch_idx = int(np.clip(pitch_idx, 0, len(scale_notes) - 1))
            pitch = scale_notes[pitch_idx]
            if beat == int(beat) and rng.random() < 0.6:
                tones = [p for p in scale_notes if p % 12 in chord]
                pitch = _nearest(tones, pitch)
                pitch_idx = scale_notes.index(pitch)
            if rng.random() > 0.08:  # occasional rest
                start, vel = _humanize(rng, int(beat * TICKS_PER_BEAT), 96 if beat % 2 == 0 else 86)
                gate = 0.95 if fam.sustained else 0.8
                notes.append(Note(start, int(length * gate * TICKS_PER_BEAT), pitch, vel))
            beat += length
    return notes


def _voicing(harmony: _Harmony, beat: float, low: int, high: int, size: int) -> list[int]:
    """A close chord voicing of ``size`` notes around the middle of ``low..high``."""
    pcs = harmony.chord_pcs(beat)
    root_pc = pcs[0]
    mid = (low + high) / 2 - 4
    roots = [p for p in range(low, high + 1) if p % 12 == root_pc]
    root = _nearest(roots, mid) if roots else low
    tones = _pitches_in_range(pcs, root, high)
    return tones[:size] if len(tones) >= size else tones


def _chords(rng, fam, harmony: _Harmony, total_beats: int, bpm: int, *, role: str) -> list[Note]:
    guitar = fam.name in ("acoustic_guitar", "electric_guitar")
    power = fam.name == "distorted_guitar"
    if power:
        patterns = [[0.5] * 8, [1, 1, 1, 1], [2, 2], [1.5, 1.5, 1]]
    elif guitar:
        patterns = [[1, 1, 1, 1], [1, 0.5, 0.5, 1, 1], [1.5, 1.5, 1], [0.5] * 8]
    elif fam.sustained:
        patterns = [[harmony.beats_per_chord], [2, 2], [4]]
    else:
        patterns = [[4], [1, 1, 1, 1], [1.5, 1.5, 1], [2, 2], [0.5, 1, 0.5, 2]]
    pattern = _pick(rng, patterns)
    vel_base = 92 if role == "lead" else 78
    notes: list[Note] = []
    beat = 0.0
    while beat < total_beats:
        for length in pattern:
            if beat >= total_beats:
                break
            if power:
                root = _voicing(harmony, beat, fam.low, fam.low + 14, 1)[0]
                voiced = [root, root + 7, root + 12]
                gate = 0.55 if length <= 0.5 else 0.9  # palm-muted eighths vs ringing chords
            elif guitar:
                voiced = _voicing(harmony, beat, fam.low + 7, fam.high - 7, 5)
                gate = 0.9
            else:
                voiced = _voicing(harmony, beat, fam.low, fam.high, 4 if fam.sustained else 3)
                gate = 1.0 if fam.sustained else 0.85
            start0, vel = _humanize(rng, int(beat * TICKS_PER_BEAT), vel_base)
            down = not (guitar and (beat % 1) != 0)  # upstrokes on off-beats
            order = voiced if down else list(reversed(voiced))
            for i, pitch in enumerate(order):
                strum = i * 12 if guitar else 0
                dur = int(length * gate * TICKS_PER_BEAT) - strum
                notes.append(Note(start0 + strum, max(dur, 30), pitch, vel - 3 * i))
            beat += length
    return notes


def _arpeggio(rng, fam, harmony: _Harmony, total_beats: int, bpm: int) -> list[Note]:
    step = 0.25 if bpm <= 110 and rng.random() < 0.5 else 0.5
    shape = _pick(rng, ["up", "updown", "broken", "down"])
    ring = 1.8 if not fam.sustained else 0.95
    notes: list[Note] = []
    beat = 0.0
    i = 0
    while beat < total_beats:
        pcs = harmony.chord_pcs(beat)
        tones = _pitches_in_range(pcs, fam.low + 5, min(fam.high, fam.low + 5 + 24))[:7]
        n = len(tones)
        if shape == "up":
            idx = i % n
        elif shape == "down":
            idx = n - 1 - i % n
        elif shape == "updown":
            period = max(2 * n - 2, 1)
            k = i % period
            idx = k if k < n else period - k
        else:
            idx = [0, 2, 1, 3, 2, 4, 3, 5][i % 8] % n
        start, vel = _humanize(
            rng, int(beat * TICKS_PER_BEAT), 90 if beat % 1 == 0 else 76, jitter=5
        )
        notes.append(Note(start, int(step * ring * TICKS_PER_BEAT), tones[idx], vel))
        beat += step
        i += 1
    return notes


def _riff(rng, fam, harmony: _Harmony, total_beats: int, bpm: int, *, role: str) -> list[Note]:
    """A one-bar motif on an eighth (or sixteenth) grid, repeated and moved with the chords."""
    grid = 0.25 if bpm <= 100 and fam.name != "bass" and rng.random() < 0.4 else 0.5
    slots = int(4 / grid)
    hits = rng.random(slots) < 0.65
    hits[0] = True
    minor_like = (harmony.scale[2] - harmony.scale[0]) == 3
    penta = (0, 3, 5, 7, 10) if minor_like else (0, 2, 4, 7, 9)
    low = fam.low + (0 if fam.name in ("bass", "distorted_guitar") else 5)
    steps = [int(rng.choice(len(penta))) if rng.random() < 0.6 else 0 for _ in range(slots)]
    octave_up = rng.random(slots) < 0.15
    power = fam.name == "distorted_guitar"
    vel_base = 100 if role == "lead" else 84
    notes: list[Note] = []
    for bar_start in range(0, total_beats, 4):
        for s in range(slots):
            beat = bar_start + s * grid
            if beat >= total_beats or not hits[s]:
                continue
            root_pc = harmony.chord_pcs(beat)[0]
            roots = [p for p in range(low, low + 12) if p % 12 == root_pc]
            root = roots[0] if roots else low
            pitch = root + penta[steps[s]] + (12 if octave_up[s] else 0)
            gate = 0.5 if fam.name in ("distorted_guitar", "bass") and grid == 0.5 else 0.8
            start, vel = _humanize(rng, int(beat * TICKS_PER_BEAT), vel_base + (8 if s == 0 else 0))
            dur = int(grid * gate * TICKS_PER_BEAT)
            chord = [pitch, pitch + 7, pitch + 12] if power and steps[s] == 0 else [pitch]
            notes.extend(Note(start, dur, p, vel) for p in chord)
    return notes


def _bass_line(rng, fam, harmony: _Harmony, total_beats: int, bpm: int) -> list[Note]:
    """Accompaniment bass: roots (and fifths) on a simple rhythm, following the chords."""
    pattern = _pick(rng, [[1, 1, 1, 1], [2, 2], [1.5, 0.5, 2], [0.5] * 8 if bpm < 140 else [1] * 4])
    notes: list[Note] = []
    beat = 0.0
    while beat < total_beats:
        for i, length in enumerate(pattern):
            if beat >= total_beats:
                break
            root_pc = harmony.chord_pcs(beat)[0]
            root = next(p for p in range(fam.low, fam.low + 12) if p % 12 == root_pc)
            pitch = root + 7 if (i % 4 == 2 and rng.random() < 0.4) else root
            start, vel = _humanize(rng, int(beat * TICKS_PER_BEAT), 92)
            notes.append(Note(start, int(length * 0.85 * TICKS_PER_BEAT), pitch, vel))
            beat += length
    return notes


# 16-step patterns per bar: instrument -> steps (sixteenths) that sound.
_GROOVE_STEPS: dict[str, dict[str, tuple[int, ...]]] = {
    "rock": {"kick": (0, 8, 10), "snare": (4, 12), "closed_hat": (0, 2, 4, 6, 8, 10, 12, 14)},
    "punk": {"kick": (0, 4, 8, 12), "snare": (2, 6, 10, 14), "crash": (0, 4, 8, 12)},
    "four_on_floor": {
        "kick": (0, 4, 8, 12),
        "clap": (4, 12),
        "open_hat": (2, 6, 10, 14),
        "closed_hat": (0, 1, 3, 4, 5, 7, 8, 9, 11, 12, 13, 15),
    },
    "hiphop": {"kick": (0, 7, 10), "snare": (4, 12), "closed_hat": (0, 2, 4, 6, 8, 10, 12, 14)},
    "halftime": {"kick": (0, 10), "snare": (8,), "ride": (0, 2, 4, 6, 8, 10, 12, 14)},
    "funk": {
        "kick": (0, 3, 6, 10),
        "snare": (4, 12, 7, 9, 15),
        "closed_hat": tuple(range(16)),
    },
}
_GHOSTS = {("funk", "snare"): (7, 9, 15)}


def _beat(rng, groove: str, total_beats: int, *, role: str) -> list[Note]:
    steps = _GROOVE_STEPS[groove]
    swing = groove == "hiphop" and rng.random() < 0.5
    scale = 1.0 if role == "lead" else 0.85
    notes: list[Note] = []
    for bar_start in range(0, total_beats, 4):
        for inst, positions in sorted(steps.items()):
            for s in positions:
                beat = bar_start + s / 4
                if beat >= total_beats:
                    continue
                if inst == "crash" and groove == "punk" and s != 0 and bar_start % 8 != 0:
                    inst_pitch = GM_DRUMS["ride"]
                else:
                    inst_pitch = GM_DRUMS[inst]
                vel = {"kick": 110, "snare": 105, "clap": 100}.get(inst, 80)
                if inst.endswith("hat") and s % 4 != 0:
                    vel -= 15
                if s in _GHOSTS.get((groove, inst), ()):
                    vel = 50
                tick = int(beat * TICKS_PER_BEAT)
                if swing and s % 4 == 2:
                    tick += TICKS_PER_BEAT // 6
                start, vel = _humanize(rng, tick, int(vel * scale), jitter=4)
                notes.append(Note(start, TICKS_PER_BEAT // 4, inst_pitch, vel))
    if rng.random() < 0.5:
        notes.append(Note(0, TICKS_PER_BEAT, GM_DRUMS["crash"], int(100 * scale)))
    return notes


def compose(spec: ClipSpec, rng: np.random.Generator, *, seconds: float = CLIP_SECONDS) -> bytes:
    """The MIDI file (bytes) for ``spec``, ``seconds`` long plus a short margin."""
    total_beats = int(math.ceil((seconds + 0.3) * spec.bpm / 60.0))
    harmony = None
    if spec.key is not None and spec.mode is not None:
        tonic = PITCH_CLASSES.index(spec.key)
        progression = _pick(rng, PROGRESSIONS[spec.mode])
        beats_per_chord = 2 if spec.bpm < 100 else 4
        harmony = _Harmony(tonic, MODES[spec.mode], progression, beats_per_chord)
    parts: list[Part] = []
    channel = 0
    for part in spec.parts:
        fam = FAMILIES[part.family]
        lead = part.role == "lead"
        if fam.drums:
            notes = _beat(rng, spec.groove or "rock", total_beats, role=part.role)
            parts.append(Part(DRUM_CHANNEL, part.program, notes, volume=110 if lead else 95))
            continue
        assert harmony is not None
        if part.style == "melody":
            notes = _melody(rng, fam, harmony, total_beats, spec.bpm)
        elif part.style == "chords":
            notes = _chords(rng, fam, harmony, total_beats, spec.bpm, role=part.role)
        elif part.style == "arpeggio":
            notes = _arpeggio(rng, fam, harmony, total_beats, spec.bpm)
        elif part.family == "bass" and not lead:
            notes = _bass_line(rng, fam, harmony, total_beats, spec.bpm)
        else:
            notes = _riff(rng, fam, harmony, total_beats, spec.bpm, role=part.role)
        volume = 112 if lead else (92 if part.family == "bass" else 80)
        parts.append(Part(channel, part.program, notes, volume=volume))
        channel += 1
        if channel == DRUM_CHANNEL:
            channel += 1
    end_tick = total_beats * TICKS_PER_BEAT
    return midi_bytes(parts, bpm=spec.bpm, end_tick=end_tick)
