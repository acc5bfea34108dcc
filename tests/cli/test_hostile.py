"""Hostile and mistaken input to the CLI (#15): one line on stderr, exit code 2, at once,
before any model loads; outputs all-or-nothing; SIGTERM like Ctrl-C; SIGKILL leftovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from riffgen.cli import _shared, main
from riffgen.cli import endless as cli_endless
from riffgen.errors import RiffgenError
from riffgen.files import atomic_outputs, remove_stale_temporaries

RIFFGEN = [sys.executable, "-m", "riffgen"]


@pytest.fixture
def no_model(monkeypatch):
    """Any attempt to load a model fails the test: the checks must come first."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the arguments were checked")

    monkeypatch.setattr(_shared, "load_pipeline", refuse)
    monkeypatch.setattr(cli_endless, "make_clip_maker", refuse)


@pytest.fixture
def clip_wav(tmp_path):
    path = tmp_path / "in.wav"
    t = np.arange(int(1.0 * 44100)) / 44100
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 44100)
    return path


@pytest.fixture
def small_png(tmp_path):
    path = tmp_path / "in.png"
    Image.fromarray(np.full((64, 32), 128, np.uint8)).save(path)
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("riffgen: error:") and "Traceback" not in err[0]
    return err[0]


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------------------- bounds


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "x", "--duration", "inf"], "finite"),
        (["generate", "x", "--duration=-inf"], "finite"),
        (["generate", "x", "--duration", "nan"], "finite"),
        (["generate", "x", "--duration", "1e9"], "60 s"),
        (["generate", "x", "--duration", "100000"], "60 s"),
        (["generate", "x", "--duration", "0"], "above 0"),
        (["generate", "x", "--width", "800000000"], "60000"),
        (["generate", "x", "--width", "-8"], "--width"),
        (["generate", "x", "--steps", "1000000000"], "1000"),
        (["generate", "x", "--steps", "0"], "--steps"),
        (["generate", "x", "--guidance", "1e300"], "--guidance"),
        (["generate", "x", "--seed", "-1"], "--seed"),
        (["generate", "x", "--seed", str(2**70)], "--seed"),
        (["generate", "x", "--denoising", "nan"], "finite"),
        (["generate", "x", "--device", "cuda:7"], "cuda:7"),
        (["generate", "x", "--device", "xyz"], "xyz"),
        (["generate", "x", "--scheduler", "nope"], "scheduler"),
        (["generate", "x", "--lora", "/nonexistent/lora"], "LoRA"),
        (["generate", "x", "--lora-scale", "inf"], "finite"),
        (["interpolate", "a", "b", "--clips", "100000"], "--clips"),
        (["inpaint", "{wav}", "x", "--start", "nan"], "finite"),
        (["inpaint", "{wav}", "x", "--end", "inf"], "finite"),
        (["transform", "{wav}", "x", "--input-duration", "1e12"], "600 s"),
        (["transform", "{wav}", "x", "--offset", "nan"], "finite"),
    ],
)
def test_generating_flags_out_of_bounds(tmp_path, clip_wav, no_model, capsys, argv, message):
    out = tmp_path / "out.wav"
    argv = [a.format(wav=clip_wav) for a in argv]
    start = time.perf_counter()
    assert main([*argv, "-o", str(out), "--model", "fake", "-q"]) == 2
    assert time.perf_counter() - start < 30  # no model, no allocation: only imports
    assert message in one_error_line(capsys)
    assert not any(out.with_suffix(s).exists() for s in (".wav", ".png", ".json"))
    assert hidden(tmp_path) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bpm", "-5"], "--bpm"),
        (["--bpm", "nan"], "finite"),
        (["--bpm", "1e6"], "--bpm"),
        (["--duration", "inf"], "finite"),
        (["--duration", "1e9"], "--duration"),
        (["--steps", "1000000000"], "--steps"),
        (["--crossfade-ms", "nan"], "finite"),
        (["--crossfade-ms", "1e9"], "crossfade"),
        (["--denoising", "-1"], "denoising"),
        (["--device", "cuda:7"], "cuda:7"),
        (["--scheduler", "nope"], "scheduler"),
    ],
)
def test_jam_checks_values_before_loading(tmp_path, no_model, capsys, argv, message):
    out = tmp_path / "jam.wav"
    base = ["jam", "a", "--duration", "5", "-o", str(out), "-q"]
    assert main([*base, *argv]) == 2  # a later --duration overrides the first
    assert message in one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--iterations", "1000000000"], "1000"),
        (["--iterations", "-1"], "--iterations"),
        (["--device", "cuda:7"], "cuda:7"),
        (["--device", "xyz"], "xyz"),
        (["--seed", "-3"], "--seed"),
    ],
)
def test_image_to_audio_bounds(tmp_path, small_png, capsys, argv, message):
    out = tmp_path / "o.wav"
    start = time.perf_counter()
    assert main(["image-to-audio", str(small_png), str(out), "-q", *argv]) == 2
    assert time.perf_counter() - start < 30
    assert message in one_error_line(capsys)
    assert not out.exists() and hidden(tmp_path) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "x", "-o", "o.wav", "--duration", "1e9"],
        ["generate", "x", "-o", "o.wav", "--width", "800000000"],
        ["generate", "x", "-o", "o.wav", "--steps", "1000000000"],
        ["image-to-audio", "in.png", "o.wav", "--iterations", "1000000000"],
    ],
)
def test_whole_process_is_quick_and_small(tmp_path, small_png, argv):
    """The real command in its own process: exit 2, one line, well under 1 GB of memory.

    The peak is the process's own VmHWM (since exec): ru_maxrss of a child would also count
    the pages it shared with this (large) test process before exec.
    """
    if argv[0] == "generate":
        argv = [*argv, "--model", "fake"]
    report_peak = (
        "import sys; from riffgen.cli import main; code = main(sys.argv[1:]); "
        "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))); "
        "sys.exit(code)"
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", report_peak, *argv], cwd=tmp_path, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1 and err[0].startswith("riffgen: error:"), err
    peak_kib = int(proc.stdout.split()[1])
    assert peak_kib < 1_000_000, proc.stdout
    assert elapsed < 120  # imports only (torch is most of it), on a loaded 2-core machine
    assert hidden(tmp_path) == [] and not (tmp_path / "o.wav").exists()


# ---------------------------------------------------------------------------- outputs


def test_output_that_is_a_directory_leaves_nothing(tmp_path, capsys):
    (tmp_path / "out.wav").mkdir()
    assert main(["generate", "x", "-o", str(tmp_path / "out.wav"), "--model", "fake", "-q"]) == 2
    assert "directory" in one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_failed_commit_restores_every_output(tmp_path):
    """A rename failing halfway puts back what was renamed: the old files, or nothing."""
    a, b, c = tmp_path / "a.wav", tmp_path / "a.png", tmp_path / "a.json"
    a.write_text("old audio")
    with pytest.raises(OSError), atomic_outputs([a, b, c]) as temps:
        for tmp in temps:
            tmp.write_text("new")
        c.mkdir()  # the last rename fails (a directory appeared in the meantime)
    assert a.read_text() == "old audio" and not b.exists() and c.is_dir()
    assert hidden(tmp_path) == []


def test_error_inside_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_outputs([tmp_path / "x.wav"]) as (tmp,):
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_output_equal_to_input_is_refused(tmp_path, clip_wav, capsys):
    before = clip_wav.read_bytes()
    argv = ["transform", str(clip_wav), "x", "-o", str(clip_wav), "--model", "fake", "-q"]
    assert main(argv) == 2
    assert "--overwrite" in one_error_line(capsys)
    assert clip_wav.read_bytes() == before
    assert main([*argv, "--overwrite", "--steps", "2"]) == 0
    assert clip_wav.read_bytes() != before and clip_wav.with_suffix(".json").exists()


def test_sidecar_equal_to_seed_image_is_refused(tmp_path, capsys):
    seed = tmp_path / "o.png"
    Image.fromarray(np.full((512, 64), 200, np.uint8)).save(seed)
    argv = ["generate", "x", "--seed-image", str(seed), "-o", str(tmp_path / "o.wav")]
    assert main([*argv, "--model", "fake", "-q"]) == 2
    assert "o.png" in one_error_line(capsys)


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    out = tmp_path / "out.wav"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    stale = [tmp_path / f".out.{pid}-abc.wav", tmp_path / f"..out.{pid}-abc.x1.npy"]
    mine = tmp_path / f".out.{os.getpid()}-def.wav"  # a live writer's: kept
    other = tmp_path / ".outer.1-abc.wav"  # another output's: kept
    for p in [*stale, mine, other]:
        p.write_text("x")
    assert sorted(remove_stale_temporaries(out)) == sorted(stale)
    assert mine.exists() and other.exists()


# ---------------------------------------------------------------------------- signals


def _start_jam(folder: Path, seconds: int = 3600) -> subprocess.Popen:
    argv = [*RIFFGEN, "jam", "a", "b", "--duration", str(seconds), "--model", "fake"]
    return subprocess.Popen(
        [*argv, "-o", "out.wav", "-q", "--steps", "2"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_render(folder: Path, proc: subprocess.Popen) -> None:
    """Until the streamed audio temporary holds a few clips."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        sizes = [p.stat().st_size for p in folder.glob(".*out.*.wav") if p.is_file()]
        if sizes and max(sizes) > 3 * 5 * 44100 * 2:
            return
        time.sleep(0.1)
    proc.kill()
    pytest.fail("the jam did not start rendering in 120 s")


@pytest.mark.slow
def test_sigterm_keeps_a_valid_shorter_jam(tmp_path):
    proc = _start_jam(tmp_path)
    _wait_for_render(tmp_path, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted: kept" in err and "Traceback" not in err
    info = sf.info(tmp_path / "out.wav")
    assert 0 < info.frames < 3600 * 44100
    log = json.loads((tmp_path / "out.json").read_text())
    assert log["result"]["interrupted"] and log["result"]["samples"] == info.frames
    assert Image.open(tmp_path / "out.png").width > 100
    assert hidden(tmp_path) == []


@pytest.mark.slow
def test_sigkill_leftovers_are_cleaned_by_the_next_run(tmp_path, capsys):
    proc = _start_jam(tmp_path)
    _wait_for_render(tmp_path, proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert hidden(tmp_path), "SIGKILL should leave temporaries behind"
    assert not (tmp_path / "out.wav").exists()
    out = tmp_path / "out.wav"
    assert main(["jam", "a", "--duration", "3", "--model", "fake", "-o", str(out), "-q"]) == 0
    assert sf.info(out).frames == 3 * 44100
    assert hidden(tmp_path) == []


# ---------------------------------------------------------------------------- properties

NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "0x10", "1_000", "", " 5", "five", "-0"]),
)
PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _cheap(value: object, cap: float) -> str:
    """``value`` as typed, but a number above ``cap`` made negative: valid large values would
    only make the (fake) model render longer; the upper bounds have their own tests."""
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return text
    return "-" + text.strip() if cap < number < float("inf") else text


def _exits_cleanly(argv: list[str], capsys) -> None:
    """0, or 2 with one line; an exception escaping main fails the test (a traceback)."""
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    if code == 2:
        assert len(err) == 1 and err[0].startswith("riffgen: error:"), err
    else:
        assert code == 0, (code, err)


@PROPERTY
@given(
    flag=st.sampled_from(["--duration", "--width", "--steps", "--guidance", "--seed"]),
    value=NUMBERS,
)
def test_generate_numbers_work_or_exit_2(tmp_path, capsys, flag, value):
    argv = ["generate", "x", "-o", str(tmp_path / "g.wav"), "--model", "fake", "-q"]
    if flag != "--steps":
        argv += ["--steps", "2"]
    if flag not in ("--duration", "--width"):
        argv += ["--width", "64"]
    cap = {"--duration": 3, "--width": 512, "--steps": 20}.get(flag, float("inf"))
    _exits_cleanly([*argv, flag, _cheap(value, cap)], capsys)


@PROPERTY
@given(
    flag=st.sampled_from(["--start", "--end", "--min-hz", "--max-hz", "--denoising", "--offset"]),
    value=NUMBERS,
)
def test_inpaint_numbers_work_or_exit_2(tmp_path, capsys, clip_wav, flag, value):
    argv = ["inpaint", str(clip_wav), "x", "-o", str(tmp_path / "i.wav"), "--model", "fake"]
    extra = [] if flag in ("--start", "--end", "--min-hz", "--max-hz") else ["--start", "0.1"]
    _exits_cleanly([*argv, "-q", "--steps", "2", *extra, flag, str(value)], capsys)


@PROPERTY
@given(
    flag=st.sampled_from(["--bpm", "--duration", "--crossfade-ms", "--guidance", "--seed"]),
    value=NUMBERS,
)
def test_jam_numbers_work_or_exit_2(tmp_path, capsys, flag, value):
    out = tmp_path / "j.wav"
    argv = ["jam", "a", "--duration", "2", "-o", str(out), "--model", "fake", "-q", "--steps", "1"]
    cap = 10 if flag == "--duration" else float("inf")
    _exits_cleanly([*argv, flag, _cheap(value, cap)], capsys)


@PROPERTY
@given(flag=st.sampled_from(["--iterations", "--seed"]), value=NUMBERS)
def test_image_to_audio_numbers_work_or_exit_2(tmp_path, capsys, small_png, flag, value):
    cap = 8 if flag == "--iterations" else float("inf")
    argv = ["image-to-audio", str(small_png), str(tmp_path / "o.wav"), "-q", "--device", "cpu"]
    _exits_cleanly([*argv, flag, _cheap(value, cap)], capsys)


def test_riffgen_error_is_the_error_type():
    assert issubclass(RiffgenError, ValueError)  # main's one-line handler covers it


# ---------------------------------------------------------------------------- quiet


@pytest.mark.parametrize(
    "argv",
    [
        ["jam", "a", "b", "--duration", "3", "-o", "{out}"],
        ["generate", "x", "--width", "64", "-o", "{out}"],
    ],
)
def test_quiet_run_prints_nothing_on_stderr(debug_model_dir, tmp_path, capsys, argv):
    """-q: no loading bar, no library notices, no progress (a real model load)."""
    out = tmp_path / "q.wav"
    argv = [a.format(out=out) for a in argv]
    fast = ["--steps", "2", "--device", "cpu", "--dtype", "fp32", "-q"]
    assert main([*argv, "--model", str(debug_model_dir), *fast]) == 0
    assert capsys.readouterr().err == ""
    assert out.exists() and out.with_suffix(".json").exists()
