"""A minimal Standard MIDI File (SMF) writer: notes in, deterministic bytes out.

We write the bytes ourselves (format 0, one track) instead of depending on ``mido``: the
subset we need is small, and owning the byte layout makes "same seed -> same bytes" easy
to guarantee (events are sorted with a total order, nothing depends on dict order).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9  # MIDI channel 10, the General MIDI percussion channel


@dataclass(frozen=True, order=True)
class Note:
    """One note. ``start`` and ``duration`` are in ticks (``TICKS_PER_BEAT`` per beat)."""

    start: int
    duration: int
    pitch: int
    velocity: int


@dataclass
class Part:
    """One instrument on one MIDI channel.

    ``program`` is the 0-based General MIDI program (for drums: the drum-kit preset).
    ``volume`` and ``reverb`` are MIDI controller values 0-127.
    """

    channel: int
    program: int
    notes: list[Note] = field(default_factory=list)
    volume: int = 100
    reverb: int = 40
    pan: int = 64


def _vlq(value: int) -> bytes:
    """MIDI variable-length quantity."""
    if value < 0:
        raise ValueError(f"negative delta time {value}")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def _clamp7(value: int) -> int:
    return max(0, min(127, int(value)))


def midi_bytes(parts: list[Part], *, bpm: float, end_tick: int) -> bytes:
    """Encode ``parts`` at ``bpm`` beats per minute as a format-0 SMF.

    Notes still sounding at ``end_tick`` are cut there; the track ends at ``end_tick``.
    """
    # (tick, priority, sequence, payload). Priority puts setup first and note-offs before
    # note-ons at the same tick so a repeated pitch is re-struck, not swallowed.
    events: list[tuple[int, int, int, bytes]] = []
    tempo_us = int(round(60_000_000 / bpm))
    events.append((0, 0, 0, b"\xff\x51\x03" + tempo_us.to_bytes(3, "big")))
    events.append((0, 0, 1, b"\xff\x58\x04\x04\x02\x18\x08"))  # 4/4
    seq = 2
    for part in parts:
        ch = part.channel & 0x0F
        setup = [
            bytes([0xB0 | ch, 0, 0]),  # bank select MSB 0 (GM bank; drums use bank 128 on ch 10)
            bytes([0xC0 | ch, part.program & 0x7F]),
            bytes([0xB0 | ch, 7, _clamp7(part.volume)]),
            bytes([0xB0 | ch, 10, _clamp7(part.pan)]),
            bytes([0xB0 | ch, 91, _clamp7(part.reverb)]),
            bytes([0xB0 | ch, 93, 0]),  # no chorus send: keeps timbres distinct
        ]
        for payload in setup:
            events.append((0, 1, seq, payload))
            seq += 1
        for note in sorted(part.notes):
            if note.start >= end_tick or note.duration <= 0:
                continue
            off = min(note.start + note.duration, end_tick)
            pitch, vel = _clamp7(note.pitch), max(1, _clamp7(note.velocity))
            events.append((note.start, 3, seq, bytes([0x90 | ch, pitch, vel])))
            events.append((off, 2, seq, bytes([0x80 | ch, pitch, 0])))
            seq += 1
    events.sort()
    track = bytearray()
    now = 0
    for tick, _, _, payload in events:
        track += _vlq(tick - now) + payload
        now = tick
    track += _vlq(max(end_tick - now, 0)) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_BEAT)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)
