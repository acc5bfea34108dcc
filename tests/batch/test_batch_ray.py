"""`riffgen batch --ray` on a local Ray cluster (2 CPUs): the same bytes as a local run, a
killed actor loses no finished clip, a job that always kills its actor ends as a failure, and
no Ray process outlives the batch."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time

import pytest

from riffgen.batch.jobs import read_jobs
from riffgen.batch.ray_runner import MARKERS, RayOptions, ray_runner, run_ray
from riffgen.batch.run import RunSettings, run_batch
from riffgen.cli import main
from riffgen.diffusion.fake import FakePipeline

from ._helpers import CrashingFake, outputs, started_under, still_running, write_jobs

# End to end through Ray (seconds each); the timeout turns a hang into a failure.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _fresh_signals() -> None:
    """In the child: SIGINT as a terminal gives it, whatever the test process inherited or
    left (an ignored or blocked SIGINT passes to children, and the batch would never see it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def test_ctrl_c_stops_the_cluster_it_started_and_a_rerun_resumes(tmp_path):
    """Runs first, before the shared cluster: `--ray` with no cluster starts one; Ctrl-C ends
    the batch (exit 130) with finished clips kept and no Ray process left; a rerun resumes."""
    quick = {"prompt": "quick", "steps": 2, "id": "quick"}
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        quick,
        {"mode": "jam", "prompts": ["a"], "duration": 7200, "id": "jam"},
    )
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "riffgen", "batch", str(jobs), "-o", str(out), "--model", "fake"]
    proc = subprocess.Popen(
        [*cmd, "--ray", "--workers", "1", "-q"], stderr=subprocess.PIPE, text=True,
        env={**os.environ, "RAY_ADDRESS": ""}, preexec_fn=_fresh_signals,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while not (out / "quick.json").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # the jam has started
    cluster = started_under(proc.pid)
    assert any("raylet" in " ".join(p.cmdline()) for p in cluster)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "batch: 2 jobs: 1 done, 0 already done, 0 failed; interrupted, 1 not finished" in err
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "quick.json", "quick.png", "quick.wav",
    ]  # fmt: skip
    assert not (left := still_running(cluster)), f"Ray processes left running: {left}"

    # The rerun (here a local one, and a shorter jam) skips what is done and cleans up what
    # the stopped actor left half-written.
    write_jobs(jobs, quick, {"mode": "jam", "prompts": ["a"], "duration": 3, "id": "jam"})
    assert main([*cmd[3:], "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "jam.json", "jam.png", "jam.wav", "quick.json", "quick.png", "quick.wav",
    ]  # fmt: skip


def test_every_mode_same_bytes_with_ray(ray_cluster, tmp_path, capsys):
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        {"prompt": "lofi beat", "steps": 2},
        {"prompt": "pad", "seed_image": "og_beat", "format": "flac", "seed": 3},
        "{broken",
        {"mode": "inpaint", "seed_image": "og_beat", "prompt": "x", "start": 1, "end": 2},
        {"mode": "interpolate", "prompt_a": "a", "prompt_b": "b", "clips": 2, "steps": 2},
        {"mode": "jam", "prompts": ["a", "b:2"], "duration": 4.5, "steps": 2},
    )
    local, ray = tmp_path / "local", tmp_path / "ray"
    assert main(["batch", str(jobs), "-o", str(local), "--model", "fake", "-q"]) == 1
    local_err = capsys.readouterr().err
    assert main(["batch", str(jobs), "-o", str(ray), "--model", "fake", "-q", "--ray"]) == 1
    assert capsys.readouterr().err == local_err  # the same bad line, the same summary
    assert len(outputs(local)) == 15 and outputs(ray) == outputs(local)


def test_debug_model_same_bytes_with_ray(ray_cluster, tmp_path):
    """The real pipeline (debug-size random weights): local and 2 Ray workers, byte for byte."""
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        {"prompt": "lofi hip hop", "seed": 1, "steps": 2, "width": 128, "id": "one"},
        {"prompt": "jazz sax", "seed": 2, "steps": 2, "width": 128, "id": "two"},
    )
    args = ["batch", str(jobs), "--model", "debug", "--device", "cpu", "--dtype", "fp32", "-q"]
    assert main([*args, "-o", str(tmp_path / "local")]) == 0
    assert main([*args, "-o", str(tmp_path / "ray"), "--ray", "--workers", "2"]) == 0
    assert len(outputs(tmp_path / "local")) == 6
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")


def test_killed_actor_loses_no_finished_clip(ray_cluster, tmp_path):
    """SIGKILL one actor as soon as its first clip is done: Ray restarts it and retries what
    it held; the finished clips stay as they were and every job ends done."""
    lines = [{"prompt": f"p{i}", "steps": 20, "id": f"j{i}"} for i in range(6)]
    jobs, _ = read_jobs(write_jobs(tmp_path / "jobs.jsonl", *lines))
    out = tmp_path / "out"
    out.mkdir()
    slow = RunSettings(model="fake", loader=functools.partial(FakePipeline, step_s=0.025))
    results, stamps, killed = [], {}, None
    for result in run_ray(jobs, out, slow, RayOptions(workers=2)):
        results.append(result)
        if killed is None and result.status == "done":
            killed = result.worker
            stamps = {p.name: p.stat().st_mtime_ns for p in out.glob(f"{result.id}.*")}
            os.kill(killed, signal.SIGKILL)
    assert killed is not None and len(stamps) == 3
    assert sorted(r.line for r in results) == list(range(1, 7))  # each job answered once
    assert all(r.status in ("done", "skipped") for r in results), results
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("j*") if p.name in stamps} == stamps
    assert len(outputs(out)) == 18 and not (out / MARKERS).exists()


def test_job_that_always_kills_its_actor_fails_and_the_batch_ends(ray_cluster, tmp_path):
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        {"prompt": "fine", "steps": 2},
        {"prompt": "crash", "steps": 2},
        {"prompt": "also fine", "steps": 2},
    )
    settings = RunSettings(model="fake", loader=functools.partial(CrashingFake))
    runner = ray_runner(RayOptions(workers=2, max_attempts=1))
    report = run_batch(jobs, tmp_path / "out", settings, runner=runner, quiet=True)
    assert [(r.line, r.status) for r in report.results] == [(1, "done"), (2, "failed"), (3, "done")]
    assert report.failed[0].error == "its worker died 1 time while making it"
    assert report.exit_code == 1 and not (tmp_path / "out" / MARKERS).exists()
