"""Bounded work for every input: limits derived from what the Riffusion format can mean.

Every size a caller (or a file's header, or its EXIF) can choose is checked here before
anything is allocated, so hostile or mistaken input fails at once with one
:class:`RiffgenError` naming the limit, instead of minutes of work or an allocator traceback.

Why these numbers:

* One image column is one STFT hop, 10 ms in the format. The longest image anyone makes is a
  whole track turned into a picture (``audio-to-image`` splits longer files); 10 minutes
  covers a long track. That is :data:`MAX_COLUMNS` = 60000 columns and :data:`MAX_SECONDS`.
* The format has 512 mel bins (image rows). Images of other heights are resampled to the mel
  count, so 2x headroom (:data:`MAX_HEIGHT` = 1024 rows and mel bins) is plenty.
* :data:`MAX_PIXELS` is 10 minutes at the format's 512 rows (30.7 M pixels, 92 MB as RGB):
  a tall image must be correspondingly narrower.
* Sample rates from telephone (8 kHz) to studio (192 kHz); STFT frames of at most 1 s and
  FFTs of at most 65536 samples (the format: 400 ms, 17640 samples), so a filterbank stays
  under ~135 MB.
* :data:`MAX_STFT_CELLS`: no decode may need a bigger STFT (frames x frequency bins) than
  10 minutes of the standard format does. This is the bound that ties the parameters to the
  image width: a finer FFT or a shorter hop leaves fewer columns.
* Griffin-Lim: the format uses 32 iterations and quality is flat long before 1000.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import TYPE_CHECKING

from riffgen.errors import RiffgenError

if TYPE_CHECKING:
    from riffgen.audio.params import SpectrogramParams

MAX_SECONDS = 600.0
MAX_COLUMNS = 60_000
MAX_HEIGHT = 1024
MAX_MEL_BINS = MAX_HEIGHT
MAX_PIXELS = MAX_COLUMNS * 512
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000
MAX_FRAME_MS = 1000
MAX_FFT = 65_536
MAX_STFT_CELLS = MAX_COLUMNS * (17640 // 2 + 1)
MAX_ITERATIONS = 1000


def _fmt(value: float) -> str:
    """Whole numbers as integers (``1000000000``, not ``1e+09``), others in ``%g``."""
    number = float(value)
    return str(int(number)) if number.is_integer() and abs(number) < 1e18 else f"{number:g}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _number(name: str, value: object, *, integer: bool = False) -> float:
    """``value`` as a finite float, or :class:`RiffgenError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise RiffgenError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise RiffgenError(f"{name} must be finite, got {value!r}")
    if integer and not number.is_integer():
        raise RiffgenError(f"{name} must be a whole number, got {value!r}")
    return number


def _in_range(name: str, value: float, low: float, high: float, unit: str, why: str = "") -> None:
    if not low <= value <= high:
        unit = f" {unit}" if unit else ""
        reason = f" ({why})" if why else ""
        raise RiffgenError(
            f"{name} is {_fmt(value)}{unit}: must be {_fmt(low)} to {_fmt(high)}{unit}{reason}"
        )


def check_image_size(width: int, height: int) -> None:
    """Refuse images no spectrogram can be: wider than 10 min, taller than 1024 rows, or
    more than :data:`MAX_PIXELS` pixels. ``width``/``height`` in pixels; read them from the
    header (``Image.open`` does not decode) before decoding."""
    if width > MAX_COLUMNS:
        raise RiffgenError(
            f"image is {width} px wide: at most {MAX_COLUMNS} columns "
            f"({_minutes(MAX_SECONDS)} of audio)"
        )
    if height > MAX_HEIGHT:
        raise RiffgenError(
            f"image is {height} px high: at most {MAX_HEIGHT} rows (the format has 512 mel bins)"
        )
    if width * height > MAX_PIXELS:
        raise RiffgenError(
            f"image is {width}x{height} = {width * height} px: at most {MAX_PIXELS} "
            f"({_minutes(MAX_SECONDS)} of audio at 512 mel bins)"
        )


def check_duration(seconds: float, *, what: str = "duration") -> float:
    """``seconds`` of audio in one image or clip: finite, > 0 and at most 10 min.

    Returns it as a float. ``what`` names the value in the message (e.g. ``"--duration"``).
    """
    value = _number(what, seconds)
    if not 0 < value <= MAX_SECONDS:
        raise RiffgenError(
            f"{what} is {_fmt(value)} s: must be above 0 and at most {MAX_SECONDS:g} s "
            f"({_minutes(MAX_SECONDS)} per image)"
        )
    return value


def check_iterations(n: int) -> int:
    """Griffin-Lim iteration count: a whole number from 0 to :data:`MAX_ITERATIONS`."""
    value = _number("Griffin-Lim iterations", n, integer=True)
    if not 0 <= value <= MAX_ITERATIONS:
        raise RiffgenError(
            f"Griffin-Lim iterations is {_fmt(value)}: must be 0 to {MAX_ITERATIONS} "
            "(the format uses 32; quality is flat long before the limit)"
        )
    return int(value)


def check_params(params: SpectrogramParams) -> None:
    """Raise :class:`RiffgenError` naming the first impossible or unbounded parameter.

    Checks types and finiteness first, so every later computation (sample counts, FFT
    sizes) is safe; then that the parameters describe a possible spectrogram.
    """
    sr = _number("sample rate", params.sample_rate, integer=True)
    if sr <= 0:
        raise RiffgenError(f"sample rate must be positive, got {_fmt(sr)}")
    _in_range("sample rate", sr, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, "Hz")
    step = _number("step_size_ms", params.step_size_ms, integer=True)
    window = _number("window_duration_ms", params.window_duration_ms, integer=True)
    padded = _number("padded_duration_ms", params.padded_duration_ms, integer=True)
    for name, value in (
        ("step_size_ms", step),
        ("window_duration_ms", window),
        ("padded_duration_ms", padded),
    ):
        if value <= 0:
            raise RiffgenError(f"{name} must be positive, got {_fmt(value)}")
        _in_range(name, value, 0, MAX_FRAME_MS, "ms")
    if params.hop_length < 1 or params.win_length < 1:
        raise RiffgenError("step and window durations are shorter than one sample")
    if padded < window:
        raise RiffgenError(
            f"padded duration ({_fmt(padded)} ms) is shorter than the window ({_fmt(window)} ms)"
        )
    if params.n_fft > MAX_FFT:
        raise RiffgenError(
            f"FFT of {params.n_fft} samples ({_fmt(padded)} ms at {_fmt(sr)} Hz): at most {MAX_FFT} "
            "(the format uses 17640)"
        )
    mels = _number("number of mel bins", params.num_frequencies, integer=True)
    if mels < 1:
        raise RiffgenError(f"number of mel bins must be at least 1, got {_fmt(mels)}")
    _in_range("number of mel bins", mels, 1, MAX_MEL_BINS, "", "the format has 512")
    low = _number("min frequency", params.min_frequency, integer=True)
    high = _number("max frequency", params.max_frequency, integer=True)
    if low < 0:
        raise RiffgenError(f"min frequency must be >= 0 Hz, got {_fmt(low)}")
    if low >= high:
        raise RiffgenError(
            f"min frequency ({_fmt(low)} Hz) must be below max frequency ({_fmt(high)} Hz)"
        )
    if high > sr / 2:
        raise RiffgenError(
            f"max frequency ({_fmt(high)} Hz) is above the Nyquist frequency "
            f"({_fmt(sr / 2)} Hz) of {_fmt(sr)} Hz audio"
        )
    power = _number("power for image", params.power_for_image)
    if not power > 0:
        raise RiffgenError(f"power for image must be positive, got {_fmt(power)}")
    check_iterations(params.num_griffin_lim_iters)


def check_work(params: SpectrogramParams, *, columns: int) -> None:
    """Refuse a conversion of ``columns`` image columns (STFT frames) with ``params`` that
    lasts over 10 min or needs a larger STFT than 10 min of the standard format."""
    seconds = params.num_samples(columns) / params.sample_rate
    if seconds > MAX_SECONDS:
        raise RiffgenError(
            f"{columns} columns of {params.step_size_ms} ms are {seconds:g} s of audio: "
            f"at most {MAX_SECONDS:g} s ({_minutes(MAX_SECONDS)}) per image"
        )
    cells = columns * (params.n_fft // 2 + 1)
    if cells > MAX_STFT_CELLS:
        limit = MAX_STFT_CELLS // (params.n_fft // 2 + 1)
        raise RiffgenError(
            f"{columns} columns with a {params.n_fft}-sample FFT need {cells / 1e6:.0f} M STFT "
            f"cells: at most {MAX_STFT_CELLS / 1e6:.0f} M (10 min of the standard format), "
            f"i.e. {limit} columns with these parameters"
        )
