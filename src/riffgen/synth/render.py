"""MIDI bytes -> audio with the FluidSynth command-line program and a General MIDI soundfont."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from riffgen.errors import RiffgenError

DEFAULT_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)
TARGET_RMS_DBFS = -18.0
PEAK_CEILING_DBFS = -1.0


def find_soundfont(path: str | os.PathLike[str] | None = None) -> Path:
    """The soundfont to use: ``path``, ``$RIFFGEN_SOUNDFONT``, or a Debian default location."""
    candidates = [path] if path else []
    if os.environ.get("RIFFGEN_SOUNDFONT"):
        candidates.append(os.environ["RIFFGEN_SOUNDFONT"])
    candidates += [] if path else list(DEFAULT_SOUNDFONTS)
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise RiffgenError(
        "no General MIDI soundfont found: install fluid-soundfont-gm or set RIFFGEN_SOUNDFONT"
    )


def find_fluidsynth() -> str:
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RiffgenError("the fluidsynth program is not installed (apt-get install fluidsynth)")
    return exe


def fluidsynth_available() -> bool:
    """True when both the fluidsynth program and a soundfont are present."""
    try:
        find_fluidsynth()
        find_soundfont()
    except RiffgenError:
        return False
    return True


def render_midi(
    midi: bytes,
    *,
    sample_rate: int = 44100,
    num_samples: int | None = None,
    soundfont: str | os.PathLike[str] | None = None,
    reverb: bool = True,
) -> np.ndarray:
    """Render SMF ``midi`` bytes -> stereo float32 ``[2, n]`` at ``sample_rate`` Hz.

    Renders 32-bit float (no dithering, no clipping), so the same bytes always give the
    same samples. ``num_samples`` trims or zero-pads the result. The level is left as
    FluidSynth makes it; see :func:`normalize_level`.
    """
    exe = find_fluidsynth()
    sf2 = find_soundfont(soundfont)
    with tempfile.TemporaryDirectory(prefix="riffgen-fs-") as tmp:
        mid_path = Path(tmp) / "clip.mid"
        raw_path = Path(tmp) / "clip.raw"
        mid_path.write_bytes(midi)
        cmd = [
            exe,
            "-n",
            "-i",
            "-q",
            "-g",
            "0.5",
            "-r",
            str(int(sample_rate)),
            "-T",
            "raw",
            "-O",
            "float",
            "-E",
            "little",
            "-R",
            "1" if reverb else "0",
            "-C",
            "0",  # chorus off: its LFO would smear pitch, and timbres stay distinct
            "-o",
            "synth.dynamic-sample-loading=1",  # load only the samples used: ~2x faster start
            "-o",
            "synth.lock-memory=0",
            "-o",
            "synth.cpu-cores=1",
            "-F",
            str(raw_path),
            str(sf2),
            str(mid_path),
        ]
        proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
        if proc.returncode != 0 or not raw_path.is_file():
            msg = proc.stderr.decode(errors="replace").strip().splitlines()
            raise RiffgenError(f"fluidsynth failed: {msg[-1] if msg else proc.returncode}")
        data = np.fromfile(raw_path, dtype="<f4")
    audio = np.ascontiguousarray(data.reshape(-1, 2).T)
    if num_samples is not None:
        if audio.shape[1] >= num_samples:
            audio = audio[:, :num_samples]
        else:
            audio = np.pad(audio, ((0, 0), (0, num_samples - audio.shape[1])))
    return audio.astype(np.float32, copy=False)


def normalize_level(
    audio: np.ndarray,
    *,
    target_rms_dbfs: float = TARGET_RMS_DBFS,
    peak_ceiling_dbfs: float = PEAK_CEILING_DBFS,
) -> np.ndarray:
    """Scale to ``target_rms_dbfs`` RMS, reduced if needed to keep peaks <= the ceiling (dBFS).

    A plain gain (no compression), so timbre and dynamics are untouched. Silence stays silent.
    """
    audio = np.asarray(audio, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if rms <= 1e-9 or peak <= 0:
        return audio
    gain = min(10 ** (target_rms_dbfs / 20) / rms, 10 ** (peak_ceiling_dbfs / 20) / peak)
    return (audio * np.float32(gain)).astype(np.float32)
