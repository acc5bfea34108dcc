"""`riffgen jam` and the offline renderer, with the fake clip maker."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from riffgen.cli import endless as cli_endless
from riffgen.cli import main
from riffgen.endless import JamEngine
from riffgen.endless.metrics import seam_report
from riffgen.endless.render import render_jam
from riffgen.endless.testing import FakeClipMaker


@pytest.fixture
def fake(monkeypatch):
    maker = FakeClipMaker()
    monkeypatch.setattr(cli_endless, "make_clip_maker", lambda args, callback=None: maker)
    return maker


@pytest.mark.parametrize("duration", [0.5, 12.345, 23.0])
def test_exact_duration_and_outputs(tmp_path, fake, duration):
    out = tmp_path / "jam.wav"
    rc = main(["jam", "lofi beat", "jazz:10", "--duration", str(duration), "-o", str(out), "-q"])
    assert rc == 0
    info = sf.info(out)
    assert info.frames == round(duration * 44100) and info.samplerate == 44100
    audio, _ = sf.read(out)
    assert abs(audio[-1]) < 1e-3  # faded out at the end, no click
    log = json.loads(out.with_suffix(".json").read_text())
    assert log["result"]["samples"] == info.frames and not log["result"]["interrupted"]
    assert log["seed_image"] == "beat_100" and len(log["clips"]) == len(fake.calls)
    assert [c["index"] for c in log["clips"]] == list(range(len(fake.calls)))
    assert log["clips"][0]["alpha"] == 0.25 and log["clips"][0]["start"]["prompt"] == "lofi beat"
    png = Image.open(out.with_suffix(".png"))
    assert png.height == 512 and abs(png.width - info.frames / 441) <= 2
    assert not list(tmp_path.glob(".*"))  # no temporaries left


def test_long_jam_seams_and_prompt_order(tmp_path, fake):
    out = tmp_path / "long.wav"
    assert (
        main(["jam", "a", "b", "c", "--duration", "60", "-o", str(out), "-q", "--seed", "5"]) == 0
    )
    log = json.loads(out.with_suffix(".json").read_text())
    ends = [c["end"]["prompt"] for c in log["clips"]]
    assert ends.index("b") < ends.index("c") and ends[0] == "a"
    assert log["clips"][0]["start"]["seed"] == 5
    audio, sr = sf.read(out, always_2d=True)
    seams = [round(c["start_s"] * sr) for c in log["clips"][1:]]
    rep = seam_report(audio.T, seams)
    assert rep.jump_ratio <= 1.0 and rep.flux_ratio <= 1.0, rep


def test_interrupt_keeps_a_valid_file(tmp_path, monkeypatch):
    maker = FakeClipMaker(interrupt_after=3)
    monkeypatch.setattr(cli_endless, "make_clip_maker", lambda args, callback=None: maker)
    out = tmp_path / "cut.wav"
    rc = main(["jam", "a", "--duration", "120", "-o", str(out), "-q"])
    assert rc == 130
    info = sf.info(out)
    # three clips of 5 s (beat_100: 4.8 s of whole loops) plus the faded crossfade tail
    assert info.frames == 3 * 211680 + 1764
    audio, _ = sf.read(out)
    assert abs(audio[-1]) < 1e-3
    log = json.loads(out.with_suffix(".json").read_text())
    assert log["result"]["interrupted"] and len(log["clips"]) == 3
    assert Image.open(out.with_suffix(".png")).width > 1000
    assert not list(tmp_path.glob(".*"))


def test_interrupt_before_any_clip_leaves_nothing(tmp_path, monkeypatch):
    maker = FakeClipMaker(interrupt_after=0)
    monkeypatch.setattr(cli_endless, "make_clip_maker", lambda args, callback=None: maker)
    out = tmp_path / "none.wav"
    assert main(["jam", "a", "--duration", "10", "-o", str(out), "-q"]) == 130
    assert list(tmp_path.iterdir()) == []


def test_error_removes_temporaries(tmp_path, beat_seed):
    def broken(*a, **k):
        raise RuntimeError("boom")

    eng = JamEngine(broken, ["a"], seed_image=beat_seed)
    with pytest.raises(RuntimeError):
        render_jam(
            eng,
            tmp_path / "x.wav",
            duration_s=3,
            image_path=tmp_path / "x.png",
            log_path=tmp_path / "x.json",
        )
    assert list(tmp_path.iterdir()) == []


def test_options_reach_the_clips(tmp_path, fake):
    out = tmp_path / "o.flac"
    rc = main(
        [
            "jam",
            "a",
            "b",
            "--duration",
            "45",
            "-o",
            str(out),
            "-q",
            "--prompt-durations",
            "30,15",
            "--denoising",
            "0.6",
            "--guidance",
            "5",
            "--negative-prompt",
            "vocals",
            "--bpm",
            "158",
            "--no-image",
            "--seed-image",
            "beat",
        ]
    )
    assert rc == 0 and sf.info(out).frames == 45 * 44100
    assert not out.with_suffix(".png").exists()
    log = json.loads(out.with_suffix(".json").read_text())
    assert log["seed_image"] == "beat_160" and log["bpm"] == 160
    first = log["clips"][0]["start"]
    assert (first["denoising"], first["guidance"], first["negative_prompt"]) == (0.6, 5.0, "vocals")
    assert [p["duration_s"] for p in log["prompts"]] == [30.0, 15.0]


@pytest.mark.parametrize(
    "argv",
    [
        ["jam", "a", "--duration", "0", "-o", "x.wav"],
        ["jam", "a", "--duration", "5", "-o", "x.mp3"],
        ["jam", "a", "--duration", "5", "-o", "x.wav", "--seed-image", "../../etc/passwd"],
        ["jam", "a", "b", "--duration", "5", "-o", "x.wav", "--prompt-durations", "3"],
        ["jam", "a:0", "--duration", "5", "-o", "x.wav"],
        ["jam", "a", "--duration", "5", "-o", "x.wav", "--denoising", "2"],
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, fake, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("riffgen: error:") and "Traceback" not in err


def test_seed_images_command(capsys):
    assert main(["seed-images"]) == 0
    out = capsys.readouterr().out
    assert "beat_120" in out and "og_beat" in out


def test_png_decodes_back(tmp_path, fake):
    out = tmp_path / "d.wav"
    main(["jam", "a", "--duration", "3", "-o", str(out), "-q"])
    from riffgen.audio.image import params_from_image

    png = Image.open(out.with_suffix(".png"))
    assert params_from_image(png).sample_rate == 44100
    assert np.asarray(png).shape == (512, png.width)
