"""The diffusion CLI commands on the debug model (in-process)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from riffgen.cli import main

FAST = ["--steps", "3", "--dtype", "fp32", "--device", "cpu", "-q"]


def run(args, model) -> int:
    return main([*args, "--model", str(model), *FAST])


def outputs(path):
    return [path, path.with_suffix(".png"), path.with_suffix(".json")]


@pytest.fixture(scope="module")
def clip_wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "in.wav"
    t = np.arange(int(1.5 * 44100)) / 44100
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 44100)
    return path


def test_generate_writes_audio_png_json(debug_model_dir, tmp_path, capsys):
    out = tmp_path / "g.wav"
    assert run(["generate", "jazz (sax:1.2)", "-o", str(out), "--duration", "1.2", "--seed", "4"],
               debug_model_dir) == 0  # fmt: skip
    audio, sr = sf.read(out)
    assert sr == 44100 and len(audio) == int(1.2 * 44100)
    image = Image.open(out.with_suffix(".png"))
    assert image.height == 64 and image.width % 8 == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    p = meta["parameters"]
    assert (p["prompt"], p["seed"], p["num_inference_steps"]) == ("jazz (sax:1.2)", 4, 3)
    assert p["scheduler"] == "pndm" and p["model"] == str(debug_model_dir)
    assert meta["command"] == "generate" and meta["output"]["duration_s"] == pytest.approx(1.2)
    # the sidecar is enough to reproduce: same arguments, same audio
    again = tmp_path / "again.wav"
    assert run(["generate", "jazz (sax:1.2)", "-o", str(again), "--duration", "1.2", "--seed",
                "4"], debug_model_dir) == 0  # fmt: skip
    assert np.array_equal(sf.read(again)[0], audio)


def test_transform_inpaint_interpolate(debug_model_dir, clip_wav, tmp_path):
    t = tmp_path / "t.wav"
    assert run(["transform", str(clip_wav), "rock", "-o", str(t), "--denoising", "0.5",
                "--scheduler", "ddim", "--negative-prompt", "noise"], debug_model_dir) == 0  # fmt: skip
    meta = json.loads(t.with_suffix(".json").read_text())
    assert meta["parameters"]["denoising"] == 0.5 and meta["input"] == str(clip_wav)
    assert meta["parameters"]["negative_prompt"] == "noise"

    i = tmp_path / "i.flac"
    assert run(["inpaint", str(clip_wav), "drums", "-o", str(i), "--start", "0.5", "--end",
                "1.0"], debug_model_dir) == 0  # fmt: skip
    src = np.asarray(Image.open(t.with_suffix(".png")))  # any image is fine for shape
    img = np.asarray(Image.open(i.with_suffix(".png")))
    assert img.shape[:2] == src.shape[:2]

    p = tmp_path / "p.wav"
    assert run(["interpolate", "piano", "organ", "-o", str(p), "--clips", "3", "--seed-a", "1",
                "--seed-image", str(t.with_suffix(".png"))], debug_model_dir) == 0  # fmt: skip
    audio, sr = sf.read(p)
    one_clip = sf.read(t)[0]
    assert len(audio) > 2.5 * len(one_clip)
    meta = json.loads(p.with_suffix(".json").read_text())
    assert [c["alpha"] for c in meta["parameters"]["clips"]] == [0.0, 0.5, 1.0]
    assert meta["parameters"]["clips"][0]["end"]["seed"] == 2  # seed-b defaults to seed-a + 1


def test_inpaint_mask_keeps_black_region(debug_model_dir, tmp_path):
    src = tmp_path / "src.wav"
    assert run(["generate", "x", "-o", str(src), "--width", "128"], debug_model_dir) == 0
    mask = np.zeros((64, 128), np.uint8)
    mask[:, 96:] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "o.wav"
    assert run(["inpaint", "--seed-image", str(src.with_suffix(".png")), "y", "-o", str(out),
                "--mask", str(tmp_path / "mask.png")], debug_model_dir) == 0  # fmt: skip
    a = np.asarray(Image.open(src.with_suffix(".png")).convert("RGB"))
    b = np.asarray(Image.open(out.with_suffix(".png")).convert("RGB"))
    assert np.array_equal(a[:, :96], b[:, :96]) and not np.array_equal(a[:, 96:], b[:, 96:])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["transform", "{wav}", "x", "--denoising", "1.5"], "denoising"),
        (["generate", "x", "--width", "500"], "multiple of 8"),
        (["transform", "{empty}", "x"], "empty"),
        (["transform", "{missing}", "x"], "not found"),
        (["inpaint", "{wav}", "x"], "--start"),
        (["inpaint", "{wav}", "x", "--start", "9", "--end", "10"], "past the end"),
        (["interpolate", "a", "b", "--clips", "0"], "--clips"),
        (["generate", "x", "--steps", "0"], "--steps"),
    ],
)
def test_bad_input_exits_2_without_files(
    debug_model_dir, clip_wav, tmp_path, capsys, args, message
):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 44100)
    fill = {"wav": str(clip_wav), "empty": str(empty), "missing": str(tmp_path / "nope.wav")}
    out = tmp_path / "out.wav"
    argv = [a.format(**fill) for a in args] + ["-o", str(out)]
    fast = [a for a in FAST if a not in ("--steps", "3")]  # keep the case's own --steps
    assert main([*argv, "--model", str(debug_model_dir), *fast]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("riffgen: error:") and message in err[0]
    assert not any(p.exists() for p in outputs(out))
    assert [p.name for p in tmp_path.iterdir()] == ["empty.wav"]  # no temp files either


def test_missing_model_exits_2(tmp_path, capsys):
    out = tmp_path / "o.wav"
    assert main(["generate", "x", "-o", str(out), "--model", str(tmp_path / "nomodel")]) == 2
    assert "model not found" in capsys.readouterr().err
    assert not out.exists()


def test_bad_output_extension(debug_model_dir, tmp_path, capsys):
    assert run(["generate", "x", "-o", str(tmp_path / "o.txt")], debug_model_dir) == 2
    assert ".wav" in capsys.readouterr().err


def test_generate_loop_is_one_seamless_period(debug_model_dir, tmp_path):
    out = tmp_path / "loop.wav"
    assert run(["generate", "techno", "-o", str(out), "--loop", "--width", "128"],
               debug_model_dir) == 0  # fmt: skip
    audio, sr = sf.read(out)
    assert len(audio) == 128 * 441  # exactly width x hop: repeats without a gap
    assert json.loads(out.with_suffix(".json").read_text())["parameters"]["loop"] is True
    # the wrap-around jump is no larger than the steps inside the clip
    jumps = np.abs(np.diff(audio))
    assert abs(audio[0] - audio[-1]) <= np.percentile(jumps, 99.9) + 1e-6


def test_generate_loop_rejects_seed_image(debug_model_dir, tmp_path, capsys):
    out = tmp_path / "x.wav"
    assert run(["generate", "a", "-o", str(out), "--loop", "--seed-image", "og_beat"],
               debug_model_dir) == 2  # fmt: skip
    assert "--loop" in capsys.readouterr().err and not out.exists()


def test_transform_whole_song_keeps_length(debug_model_dir, tmp_path):
    song = tmp_path / "song.wav"
    t = np.arange(int(12.3 * 22050)) / 22050
    sf.write(song, (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 22050)
    out = tmp_path / "long.wav"
    assert run(["transform", str(song), "rock", "--then", "jazz", "-o", str(out),
                "--denoising", "0.4"], debug_model_dir) == 0  # fmt: skip
    audio, sr = sf.read(out)
    assert sr == 22050 and len(audio) == len(t)  # as long as the input, at its rate
    assert np.sqrt(np.mean(audio**2)) > 1e-3  # not silence
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["parameters"]["prompts"] == ["rock", "jazz"]
    assert Image.open(out.with_suffix(".png")).width > 1000  # the whole song's spectrogram
