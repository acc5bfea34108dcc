"""--decoder on every command that turns images into audio, down to the pipeline's calls."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

import riffgen.diffusion
from riffgen.audio.decoders import DECODERS, DEFAULT_DECODER
from riffgen.cli import build_parser, main
from riffgen.diffusion.fake import FakePipeline

COMMANDS = {
    "generate": ["generate", "p", "-o", "x.wav"],
    "transform": ["transform", "in.wav", "p", "-o", "x.wav"],
    "inpaint": ["inpaint", "in.wav", "p", "-o", "x.wav"],
    "interpolate": ["interpolate", "a", "b", "-o", "x.wav"],
    "jam": ["jam", "p", "--duration", "3", "-o", "x.wav"],
    "batch": ["batch", "jobs.jsonl", "-o", "out"],
    "image-to-audio": ["image-to-audio", "x.png", "x.wav"],
    "serve": ["serve"],
}


class RecordingFake(FakePipeline):
    """The fake pipeline, noting the decoder it was set to at each call."""

    def __init__(self) -> None:
        super().__init__()
        self.decoders: list[str | None] = []

    def _render(self, prompt, seed, width, params):
        self.decoders.append(getattr(self, "decoder", None))
        return super()._render(prompt, seed, width, params)

    def interpolate(self, *args, **kwargs):
        self.decoders.append(getattr(self, "decoder", None))
        return super().interpolate(*args, **kwargs)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_the_flag_with_the_one_default(command):
    parser = build_parser()
    args = parser.parse_args(COMMANDS[command])
    # image-to-audio leaves it unset so its older --algorithm may decide
    expected = None if command == "image-to-audio" else DEFAULT_DECODER
    assert args.decoder == expected
    for name in DECODERS:
        assert parser.parse_args([*COMMANDS[command], "--decoder", name]).decoder == name


def test_unknown_decoder_is_one_line_exit_2(capsys):
    assert main(["generate", "p", "-o", "x.wav", "--decoder", "wavenet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "wavenet" in err[0] and "vocoder" in err[0]


@pytest.fixture
def recording(monkeypatch):
    pipes: list[RecordingFake] = []

    def load(*_args, **_kwargs):
        pipes.append(RecordingFake())
        return pipes[-1]

    monkeypatch.setattr(riffgen.diffusion, "load_pipeline", load)
    return pipes


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    path = tmp_path_factory.mktemp("song") / "in.wav"
    t = np.arange(int(7 * 44100)) / 44100  # longer than one clip: the whole-song transform
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 44100)
    return path


@pytest.mark.parametrize("decoder", ["vocoder", None])
def test_the_decoder_reaches_every_pipeline_call(recording, song, tmp_path, decoder):
    flag = [] if decoder is None else ["--decoder", decoder]
    want = decoder or DEFAULT_DECODER
    fast = ["--model", "fake", "--steps", "2", "-q", *flag]
    runs = [
        ["generate", "p", "-o", str(tmp_path / "g.wav")],
        ["transform", str(song), "p", "-o", str(tmp_path / "t.wav")],
        ["inpaint", str(song), "p", "-o", str(tmp_path / "i.wav"), "--start", "0.5",
         "--input-duration", "3"],
        ["interpolate", "a", "b", "-o", str(tmp_path / "n.wav"), "--clips", "2"],
        ["jam", "a", "b", "--duration", "6", "-o", str(tmp_path / "j.wav")],
    ]  # fmt: skip
    for argv in runs:
        assert main([*argv, *fast]) == 0, argv
    assert len(recording) == len(runs)
    for pipe, argv in zip(recording, runs, strict=True):
        assert pipe.decoders and set(pipe.decoders) == {want}, (argv[0], pipe.decoders)
    sidecar = json.loads((tmp_path / "g.json").read_text())
    assert sidecar["arguments"]["decoder"] == want
    assert json.loads((tmp_path / "j.json").read_text())["decoder"] == want


def test_image_to_audio_decoders(tmp_path, capsys):
    from riffgen.audio import audio_to_image
    from riffgen.audio.image import save_image

    t = np.arange(44100) / 44100
    wave = (0.5 * np.sin(2 * np.pi * 330 * t) * np.exp(-3 * (t % 0.25))).astype(np.float32)
    save_image(tmp_path / "x.png", audio_to_image(wave, 44100))
    made = {}
    for name in DECODERS:
        out = tmp_path / f"{name}.wav"
        assert main(["image-to-audio", str(tmp_path / "x.png"), str(out), "--decoder", name,
                     "-q"]) == 0  # fmt: skip
        made[name], sr = sf.read(out)
        assert sr == 44100 and len(made[name]) == 44100
    assert not np.allclose(made["vocoder"], made["griffin-lim"])
    # --algorithm is the older spelling; a contradiction is refused before any work
    old = tmp_path / "old.wav"
    argv = ["image-to-audio", str(tmp_path / "x.png"), str(old), "-q", "--algorithm", "original"]
    assert main(argv) == 0
    assert np.array_equal(sf.read(old)[0], made["original"])
    capsys.readouterr()
    assert main([*argv, "--overwrite", "--decoder", "vocoder"]) == 2
    assert "--algorithm original is --decoder original" in capsys.readouterr().err
