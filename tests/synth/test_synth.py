"""Synthetic data generator: determinism, captions, holdout, rendering, dataset layout."""

from __future__ import annotations

import json
import re
import struct

import numpy as np
import pytest
from PIL import Image

from riffgen.synth import (
    DEFAULT_HOLDOUT,
    FAMILIES,
    TEMPLATES,
    TEMPO_VOCABULARY,
    ClipSpec,
    PartSpec,
    generate_clip,
    prompt_set,
    subset_of,
    write_dataset,
)
from riffgen.synth.captions import PROGRAM_NAMES, family_phrases
from riffgen.synth.midi import Note, Part, midi_bytes

# Fails (never skips) without FluidSynth: see conftest.require_fluidsynth.
needs_fluidsynth = pytest.mark.usefixtures("require_fluidsynth")


def _note_ons(midi: bytes) -> int:
    """Count note-on events (velocity > 0) in a format-0 SMF written by midi_bytes."""
    assert midi[:4] == b"MThd"
    fmt, ntrks, division = struct.unpack(">HHH", midi[8:14])
    assert (fmt, ntrks) == (0, 1) and division == 480
    assert midi[14:18] == b"MTrk"
    (length,) = struct.unpack(">I", midi[18:22])
    track, i, count = midi[22 : 22 + length], 0, 0
    assert len(track) == length and track.endswith(b"\xff\x2f\x00")
    while i < len(track):
        while track[i] & 0x80:  # delta-time VLQ
            i += 1
        i += 1
        status = track[i]
        if status == 0xFF:
            i += 2 + track[i + 2] + 1
        elif status & 0xF0 in (0xC0, 0xD0):
            i += 2
        else:
            count += status & 0xF0 == 0x90 and track[i + 2] > 0
            i += 3
    return count


def _spectral_centroid(audio: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(audio))
    freqs = np.fft.rfftfreq(audio.size, 1 / sr)
    return float((spec * freqs).sum() / spec.sum())


def test_midi_writer_orders_events_and_cuts_at_end():
    part = Part(channel=0, program=0, notes=[Note(0, 480, 60, 100), Note(480, 960, 60, 90)])
    data = midi_bytes([part], bpm=120, end_tick=960)
    assert _note_ons(data) == 2
    assert data == midi_bytes([part], bpm=120, end_tick=960)


def test_same_seed_same_midi_bytes_different_seed_differs():
    clips = [generate_clip(seed, render=False) for seed in range(25)]
    again = [generate_clip(seed, render=False) for seed in range(25)]
    for a, b in zip(clips, again, strict=True):
        assert a.midi == b.midi and a.caption == b.caption and a.label == b.label
        assert _note_ons(a.midi) > 0
    assert len({c.midi for c in clips}) == len(clips)


@needs_fluidsynth
def test_same_seed_same_audio():
    a = generate_clip(11, seconds=2.0)
    b = generate_clip(11, seconds=2.0)
    assert a.audio is not None and b.audio is not None
    assert a.audio.shape == (88200,)
    assert np.array_equal(a.audio, b.audio)


def test_captions_name_the_lead_instrument_and_state_the_tempo():
    seen_templates = set()
    for seed in range(400):
        clip = generate_clip(seed, render=False)
        text, spec = clip.caption.lower(), clip.spec
        lead = spec.lead
        words = family_phrases(lead.family)
        # half of the training captions name the GM program instead ("tenor sax")
        words += PROGRAM_NAMES[lead.family][lead.program]
        assert any(w.lower() in text for w in words), (text, lead.family)
        tempo_words = TEMPO_VOCABULARY[spec.tempo]
        other_words = set().union(*(v for k, v in TEMPO_VOCABULARY.items() if k != spec.tempo))
        has_band_word = any(re.search(rf"\b{re.escape(w)}\b", text) for w in tempo_words)
        assert has_band_word or str(spec.bpm) in text, (text, spec.bpm)
        # No word of another tempo band ("slow" on a 170 BPM clip); "steady"/"relaxed" moods
        # excepted because they are only tempo words.
        wrong = [w for w in other_words if re.search(rf"(^|[\s,:]){re.escape(w)}([\s,.]|$)", text)]
        assert not [w for w in wrong if w not in tempo_words], (text, spec.bpm)
        assert " a a" not in text and not re.search(r"\ba [aeiou]", text), text
        seen_templates.add(clip.template)
    assert seen_templates == set(DEFAULT_HOLDOUT.train_templates())


def test_program_names_cover_every_family_program_and_half_the_training_captions(monkeypatch):
    import riffgen.synth.dataset as dataset

    for name, family in FAMILIES.items():
        assert set(PROGRAM_NAMES[name]) == set(family.programs), name
    named = [generate_clip(seed, render=False).caption for seed in range(200)]
    monkeypatch.setattr(dataset, "PROGRAM_NAME_RATE", 0.0)
    plain = [generate_clip(seed, render=False).caption for seed in range(200)]
    changed = sum(a != b for a, b in zip(named, plain, strict=True)) / len(named)
    assert 0.3 <= changed <= 0.6  # half are renamed; for some programs the name is the word
    # held-out prompts keep the family words: the evaluation's prompts do not change
    for clip in prompt_set("seen", n=40, seed=0):
        lead = clip.spec.lead
        assert any(w in clip.caption.lower() for w in family_phrases(lead.family)), clip.caption


def test_caption_example_reads_naturally():
    spec = ClipSpec(
        parts=(PartSpec("violin", 40, "melody", "lead"),),
        bpm=70,
        key="A",
        mode="minor",
        groove=None,
    )
    clip = generate_clip(3, spec=spec, template=0, render=False)
    assert clip.caption.startswith("a ")
    assert any(w in clip.caption for w in ("violin", "fiddle"))
    assert "A minor" in clip.caption
    assert clip.label["tempo"] == "slow" and clip.label["families"] == ["violin"]


def test_holdout_subsets_keep_templates_and_combinations_apart():
    for seed in range(150):
        for subset in ("train", "heldout_template", "heldout_combo"):
            clip = generate_clip(seed, subset=subset, render=False)
            assert subset_of(clip.label, clip.template) == subset
    assert len(TEMPLATES) - len(DEFAULT_HOLDOUT.templates) >= 8


@needs_fluidsynth
def test_every_family_renders_audible_audio_in_its_register():
    centroids = {}
    for name, fam in FAMILIES.items():
        style = fam.styles[0]
        spec = ClipSpec(
            parts=(PartSpec(name, fam.programs[0], style, "lead"),),
            bpm=120,
            key=None if fam.drums else "C",
            mode=None if fam.drums else "major",
            groove="rock" if fam.drums else None,
        )
        clip = generate_clip(1, spec=spec, seconds=1.5)
        audio = clip.audio
        assert audio is not None
        rms_db = 20 * np.log10(np.sqrt(np.mean(audio**2)) + 1e-12)
        assert -30 < rms_db < -10, (name, rms_db)
        assert np.abs(audio).max() <= 10 ** (-0.9 / 20), name  # peak ceiling -1 dBFS
        centroids[name] = _spectral_centroid(audio, clip.sample_rate)
    assert centroids["bass"] < centroids["flute"]
    assert centroids["bass"] < centroids["violin"]
    assert centroids["bass"] < min(centroids["distorted_guitar"], centroids["drums"])


@needs_fluidsynth
def test_write_dataset_layout(tmp_path):
    info = write_dataset(tmp_path, n=2, n_test=3, seed=5, save_midi=True)
    assert info["train"] == 2 and info["test"] == 3
    rows = [json.loads(x) for x in (tmp_path / "train" / "metadata.jsonl").read_text().splitlines()]
    test_rows = [
        json.loads(x) for x in (tmp_path / "test" / "metadata.jsonl").read_text().splitlines()
    ]
    assert [r["subset"] for r in test_rows] == ["seen", "heldout_template", "heldout_combo"]
    for row in rows:
        image = Image.open(tmp_path / "train" / row["file_name"])
        assert image.size == (512, 512)
        assert row["text"] and row["labels"]["families"] and row["labels"]["bpm"] >= 60
        assert (tmp_path / "train" / row["midi_file"]).read_bytes()[:4] == b"MThd"
        assert row["level"]["peak_dbfs"] <= -0.9 and row["level"]["rms_dbfs"] > -30


def test_script_rejects_bad_arguments(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "scripts" / "make_synth_dataset.py"
    spec = importlib.util.spec_from_file_location("make_synth_dataset", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--n", "1", "--out", "/tmp/unused", "--workers", "0"]) == 2
    assert "workers" in capsys.readouterr().err
