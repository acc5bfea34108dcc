"""prepare-dataset: slicing, silence, captions, resume, bad files, CLI."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from PIL import Image

from riffgen.audio import SpectrogramParams
from riffgen.cli import main
from riffgen.errors import RiffgenError
from riffgen.training.captions import caption_from_name, load_caption_map
from riffgen.training.prepare import PrepareConfig, clip_starts, prepare_dataset, rms_dbfs

# 1.04 s clips -> 104-column images: fast, still a multiple of 8.
FAST = PrepareConfig(clip_seconds=1.04, progress=False)


def rows_of(out: Path) -> list[dict]:
    lines = (out / "train" / "metadata.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def by_source(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["source"], []).append(row)
    return out


def test_slices_skips_silence_and_bad_files(audio_dir: Path, tmp_path: Path) -> None:
    warnings: list[str] = []
    summary = prepare_dataset(audio_dir, tmp_path / "ds", FAST, warn=warnings.append)
    rows = rows_of(tmp_path / "ds")
    sources = by_source(rows)
    assert {k: len(v) for k, v in sources.items()} == {
        "jazz/smooth_sax_01.wav": 3,
        "drums/loop.flac": 2,
        "ambient/pad.mp3": 2,
    }
    assert summary.clips_silent == 2 and summary.clips_written == 7 and summary.total_clips == 7
    assert summary.bad_files == ["broken.wav"]
    assert len(warnings) == 1 and "broken.wav" in warnings[0]
    starts = [r["start_s"] for r in sources["jazz/smooth_sax_01.wav"]]
    assert starts == [0.0, 1.04, 2.08]
    row = sources["jazz/smooth_sax_01.wav"][0]
    assert row["text"] == row["caption"] == "jazz, smooth sax"
    assert row["spectrogram"]["sample_rate"] == 44100 and row["duration_s"] == pytest.approx(1.03)
    image = Image.open(tmp_path / "ds" / "train" / row["file_name"])
    assert image.size == (104, 512) and image.mode == "RGB"
    # The image is the model's format: EXIF parameters, a tone line near 440 Hz.
    assert SpectrogramParams.from_exif(dict(image.getexif())) == SpectrogramParams()
    pixels = np.asarray(image)[::-1, :, 0].astype(float)
    assert pixels.mean(axis=1).argmin() in range(86, 97)  # 440 Hz: mel 550 of 3073 -> row 91
    # Every listed image exists and nothing else does.
    names = {r["file_name"] for r in rows}
    assert names == {p.name for p in (tmp_path / "ds" / "train").glob("*.png")}


def test_hop_and_clip_length(audio_dir: Path, tmp_path: Path) -> None:
    config = PrepareConfig(clip_seconds=1.04, hop_seconds=0.52, progress=False)
    prepare_dataset(audio_dir, tmp_path / "ds", config, warn=lambda _: None)
    sources = by_source(rows_of(tmp_path / "ds"))
    assert len(sources["jazz/smooth_sax_01.wav"]) == 5
    assert clip_starts(3.3, config) == [0.0, 0.52, 1.04, 1.56, 2.08]
    assert clip_starts(0.5, config) == []
    assert PrepareConfig().width == 512


def test_silence_threshold_is_configurable(audio_dir: Path, tmp_path: Path) -> None:
    # The 0.1-rms noise (-20 dBFS) counts as silence at a -10 dBFS threshold; the tone does not.
    config = PrepareConfig(clip_seconds=1.04, silence_dbfs=-16.0, progress=False)
    prepare_dataset(audio_dir, tmp_path / "ds", config, warn=lambda _: None)
    sources = by_source(rows_of(tmp_path / "ds"))
    assert "drums/loop.flac" not in sources and "jazz/smooth_sax_01.wav" in sources
    assert rms_dbfs(np.zeros(10)) == float("-inf")
    assert rms_dbfs(np.ones(10)) == pytest.approx(0.0)


def test_captions_from_map_sidecar_and_names(audio_dir: Path, tmp_path: Path) -> None:
    (audio_dir / "drums" / "loop.txt").write_text("  funky\n drum loop ")
    captions = tmp_path / "captions.csv"
    captions.write_text("file_name,caption\njazz/smooth_sax_01.wav,late night saxophone\n")
    config = PrepareConfig(clip_seconds=1.04, captions=captions, progress=False)
    prepare_dataset(audio_dir, tmp_path / "ds", config, warn=lambda _: None)
    got = {
        s: (r[0]["caption"], r[0]["caption_source"])
        for s, r in by_source(rows_of(tmp_path / "ds")).items()
    }
    assert got == {
        "jazz/smooth_sax_01.wav": ("late night saxophone", "map"),
        "drums/loop.flac": ("funky drum loop", "sidecar"),
        "ambient/pad.mp3": ("ambient, pad", "name"),
    }


def test_caption_map_formats(tmp_path: Path) -> None:
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"./a/b.wav": "x", "c": "y"}))
    assert load_caption_map(j) == {"a/b.wav": "x", "c": "y"}
    j.write_text(json.dumps([{"file": "a.wav", "text": "z"}]))
    assert load_caption_map(j) == {"a.wav": "z"}
    c = tmp_path / "c.csv"
    c.write_text("a.wav,hello, world\n")  # no header, caption is the second column
    assert load_caption_map(c) == {"a.wav": "hello"}
    c.write_text('a.wav,"hello, world"\n')
    assert load_caption_map(c) == {"a.wav": "hello, world"}
    j.write_text("{not json")
    with pytest.raises(RiffgenError, match="not valid JSON"):
        load_caption_map(j)


@pytest.mark.parametrize(
    ("path", "caption"),
    [
        ("jazz/smooth_sax_01.wav", "jazz, smooth sax"),
        ("Lo-Fi/HipHop/beat-007.mp3", "lo fi, hip hop, beat"),
        ("take2.wav", "take2"),
        ("01.wav", ""),
    ],
)
def test_caption_from_name(path: str, caption: str) -> None:
    assert caption_from_name(PurePosixPath(path)) == caption


def test_resume_skips_done_clips(audio_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    prepare_dataset(audio_dir, out, FAST, warn=lambda _: None)
    first = (out / "train" / "metadata.jsonl").read_text()
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "train").glob("*.png")}
    again = prepare_dataset(audio_dir, out, FAST, warn=lambda _: None)
    assert again.clips_written == 0 and again.clips_reused == 7 and again.clips_silent == 2
    assert (out / "train" / "metadata.jsonl").read_text() == first
    assert {p.name: p.stat().st_mtime_ns for p in (out / "train").glob("*.png")} == mtimes
    # A lost image is rebuilt; a new file is added; the rest stays.
    victim = sorted(mtimes)[0]
    (out / "train" / victim).unlink()
    (audio_dir / "new.wav").write_bytes((audio_dir / "jazz" / "smooth_sax_01.wav").read_bytes())
    third = prepare_dataset(audio_dir, out, FAST, warn=lambda _: None)
    assert third.clips_written == 1 + 3 and third.total_clips == 10
    assert (out / "train" / victim).is_file()
    assert len(rows_of(out)) == 10


def test_interrupted_run_leaves_consistent_metadata(audio_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    calls = 0

    def audio_to_image_then_die(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    import riffgen.training.prepare as prep

    real = prep.audio_to_image
    prep.audio_to_image = audio_to_image_then_die
    try:
        with pytest.raises(KeyboardInterrupt):
            prepare_dataset(audio_dir, out, FAST, warn=lambda _: None)
    finally:
        prep.audio_to_image = real
    rows = rows_of(out)  # written by the interrupted run, every listed image exists
    assert 0 < len(rows) < 7
    assert all((out / "train" / r["file_name"]).is_file() for r in rows)
    summary = prepare_dataset(audio_dir, out, FAST, warn=lambda _: None)
    assert summary.total_clips == 7 and summary.clips_reused == len(rows)


def test_changed_settings_are_refused(audio_dir: Path, tmp_path: Path) -> None:
    prepare_dataset(audio_dir, tmp_path / "ds", FAST, warn=lambda _: None)
    other = PrepareConfig(clip_seconds=1.04, params=SpectrogramParams(stereo=True), progress=False)
    with pytest.raises(RiffgenError, match="stereo False -> True"):
        prepare_dataset(audio_dir, tmp_path / "ds", other, warn=lambda _: None)


def test_cli(audio_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    args = ["prepare-dataset", str(audio_dir), str(out), "--clip-seconds", "1.04", "--no-progress"]
    assert main([*args, "--stereo", "--max-frequency", "8000"]) == 0
    captured = capsys.readouterr()
    assert "7 clips in dataset" in captured.out
    assert "skipping broken.wav" in captured.err and "Traceback" not in captured.err
    row = rows_of(out)[0]
    assert row["spectrogram"]["stereo"] is True and row["spectrogram"]["max_frequency"] == 8000
    image = np.asarray(Image.open(out / "train" / row["file_name"]))
    assert (image[..., 0] == 0).all()  # stereo images: R = 0


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prepare-dataset", str(tmp_path / "missing"), str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not found" in err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    assert main(["prepare-dataset", str(tmp_path / "empty"), str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no audio files" in err
