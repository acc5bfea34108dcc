"""`riffgen batch` in one process, with the fake model: every mode, resume, bad lines, Ctrl-C."""

from __future__ import annotations

import functools
import json

import numpy as np
import soundfile as sf

from riffgen.batch.run import RunSettings, run_batch
from riffgen.cli import main

from ._helpers import InterruptingFake, outputs, write_jobs

FAST = {"steps": 2}


def _song(path, seconds=2.0, sr=22050):
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    return path


def _batch(jobs, out, *extra):
    return main(["batch", str(jobs), "-o", str(out), "--model", "fake", "-q", *extra])


def test_every_mode_writes_audio_png_and_sidecar(tmp_path):
    _song(tmp_path / "song.wav")
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        {"prompt": "lofi beat", "id": "gen", **FAST},
        {"prompt": "pad", "id": "img2img", "seed_image": "og_beat", "format": "flac", **FAST},
        {"mode": "transform", "id": "tr", "input": "song.wav", "prompt": "fiddle", **FAST},
        {"mode": "transform", "id": "long", "input": "song.wav", "prompt": "a", "then": ["b"]},
        {
            "mode": "inpaint",
            "id": "in",
            "seed_image": "og_beat",
            "prompt": "x",
            "start": 1,
            "end": 2,
        },
        {
            "mode": "interpolate",
            "id": "morph",
            "prompt_a": "a",
            "prompt_b": "b",
            "clips": 2,
            **FAST,
        },
        {"mode": "jam", "id": "jam", "prompts": ["a", "b:2"], "duration": 4.5, **FAST},
    )
    out = tmp_path / "out"
    assert _batch(jobs, out) == 0
    files = outputs(out)
    ids = ["gen", "img2img", "tr", "long", "in", "morph", "jam"]
    ext = {"img2img": "flac"}
    assert sorted(files) == sorted(
        f"{i}.{s}" for i in ids for s in (ext.get(i, "wav"), "png", "json")
    )
    assert not list(out.glob(".*"))  # no temporaries
    for line, name in enumerate(ids, start=1):
        sidecar = json.loads(files[f"{name}.json"])
        assert sidecar["command"] == "batch" and sidecar["line"] == line and sidecar["id"] == name
        assert sidecar["model"]["name"] == "fake" and sidecar["job"]["id"] == name
    assert sf.info(out / "long.wav").frames == sf.info(tmp_path / "song.wav").frames
    assert sf.info(out / "jam.wav").duration == 4.5
    assert json.loads(files["jam.json"])["result"]["interrupted"] is False


def test_rerun_skips_what_is_done_and_redoes_an_edited_line(tmp_path, capsys):
    lines = [{"prompt": p, "seed": i, **FAST} for i, p in enumerate(["a", "b", "c"])]
    jobs = write_jobs(tmp_path / "jobs.jsonl", *lines)
    out = tmp_path / "out"
    assert _batch(jobs, out) == 0
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    capsys.readouterr()

    assert main(["batch", str(jobs), "-o", str(out), "--model", "fake"]) == 0
    assert "3 jobs: 0 done, 3 already done, 0 failed" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps

    lines[1]["seed"] = 7  # an edited job is made again; the others stay
    write_jobs(jobs, *lines)
    assert main(["batch", str(jobs), "-o", str(out), "--model", "fake"]) == 0
    assert "3 jobs: 1 done, 2 already done" in capsys.readouterr().err
    changed = {p.name for p in out.iterdir() if p.stat().st_mtime_ns != stamps[p.name]}
    assert changed == {"2.wav", "2.png", "2.json"}
    assert json.loads((out / "2.json").read_text())["job"]["seed"] == 7


def test_bad_lines_and_failed_jobs_do_not_stop_the_others(tmp_path, capsys):
    (tmp_path / "noise.wav").write_bytes(b"not audio at all")
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        {"prompt": "ok one", **FAST},
        "{broken",
        {"prompt": "x", "steps": 5000},
        {"mode": "transform", "prompt": "x", "input": "noise.wav"},  # fails when it runs
        {"mode": "transform", "prompt": "x", "input": "absent.wav"},
        {"prompt": "ok two", **FAST},
    )
    out = tmp_path / "out"
    assert _batch(jobs, out) == 1
    err = capsys.readouterr().err.splitlines()
    assert sorted(p.name for p in out.iterdir()) == [
        "1.json",
        "1.png",
        "1.wav",
        "6.json",
        "6.png",
        "6.wav",
    ]
    assert any(e.startswith("riffgen: line 2: invalid JSON") for e in err)
    assert any(e.startswith("riffgen: line 3: steps: Input should be less than") for e in err)
    assert any(e.startswith("riffgen: line 4: cannot read") for e in err)
    assert any(e.startswith("riffgen: line 5: input: file not found: absent.wav") for e in err)
    assert err[-1] == "batch: 6 jobs: 2 done, 0 already done, 4 failed (lines 2, 3, 4, 5)"


def test_ctrl_c_keeps_finished_clips_and_a_rerun_resumes(tmp_path):
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        {"prompt": "first", **FAST},
        {"prompt": "stop", **FAST},
        {"prompt": "third", **FAST},
    )
    out = tmp_path / "out"
    stopping = RunSettings(model="fake", loader=functools.partial(InterruptingFake))
    report = run_batch(jobs, out, stopping, quiet=True)
    assert report.interrupted is not None
    assert report.summary() == (
        "batch: 3 jobs: 1 done, 0 already done, 0 failed; interrupted, 2 not finished: run it again"
    )
    assert sorted(outputs(out)) == ["1.json", "1.png", "1.wav"]  # nothing of job 2, no temporary
    report = run_batch(jobs, out, RunSettings(model="fake"), quiet=True)
    assert (report.count("skipped"), report.count("done"), report.exit_code) == (1, 2, 0)


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "none.jsonl"), "-o", str(tmp_path)]) == 2
    assert (
        capsys.readouterr().err
        == f"riffgen: error: jobs file not found: {tmp_path / 'none.jsonl'}\n"
    )
    jobs = write_jobs(tmp_path / "jobs.jsonl", {"prompt": "a"})
    (tmp_path / "file").write_text("")
    assert _batch(jobs, tmp_path / "file") == 2
    assert "is a file" in capsys.readouterr().err
    assert _batch(jobs, tmp_path / "o", "--workers", "0") == 2
