"""Bounded work for every input (issue 15): hostile sizes fail fast with one RiffgenError."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from riffgen.audio import SpectrogramParams, audio_to_image, image_to_audio
from riffgen.audio.image import mel_from_image, open_image, params_from_image
from riffgen.audio.limits import (
    MAX_COLUMNS,
    MAX_ITERATIONS,
    check_duration,
    check_image_size,
    check_iterations,
    check_params,
    check_work,
)
from riffgen.audio.params import ExifTag
from riffgen.audio.phase import iteration_split, reconstruct
from riffgen.audio.spectrogram import griffin_lim_original
from riffgen.errors import RiffgenError


def _exif_image(tags: dict[int, object], size: tuple[int, int] = (8, 512)) -> Image.Image:
    image = Image.new("RGB", size, (255, 255, 255))
    exif = image.getexif()
    for tag, value in tags.items():
        exif[tag] = value
    image.info["exif"] = exif.tobytes()
    return image


# -- the limits themselves -------------------------------------------------------------------


def test_messages_name_the_limit() -> None:
    with pytest.raises(RiffgenError, match=r"9400 px high: at most 1024 rows"):
        check_image_size(9400, 9400)
    with pytest.raises(RiffgenError, match=r"100000 px wide: at most 60000 columns \(10 min"):
        check_image_size(100_000, 16)
    with pytest.raises(RiffgenError, match="at most 30720000"):
        check_image_size(40_000, 1024)
    with pytest.raises(RiffgenError, match="iterations is 1000000000: must be 0 to 1000"):
        check_iterations(10**9)
    with pytest.raises(RiffgenError, match="at most 600 s"):
        check_duration(601)
    with pytest.raises(RiffgenError, match="finite"):
        check_duration(float("nan"))
    with pytest.raises(RiffgenError, match="8000 to 192000"):
        SpectrogramParams(sample_rate=2**31 - 1, max_frequency=10000)
    with pytest.raises(RiffgenError, match="mel bins is 1000000: must be 1 to 1024"):
        SpectrogramParams(num_frequencies=10**6)
    with pytest.raises(RiffgenError, match="FFT of 76800 samples"):
        SpectrogramParams(sample_rate=192_000)
    with pytest.raises(RiffgenError, match="STFT cells"):
        check_work(SpectrogramParams(padded_duration_ms=1000), columns=MAX_COLUMNS)


def test_the_format_and_its_extremes_are_accepted() -> None:
    check_image_size(MAX_COLUMNS, 512)
    check_image_size(512, 1024)
    check_work(SpectrogramParams(), columns=MAX_COLUMNS)
    check_iterations(MAX_ITERATIONS)
    assert check_duration(600) == 600.0
    SpectrogramParams(sample_rate=8000, max_frequency=4000)
    SpectrogramParams(sample_rate=96000, max_frequency=48000, num_frequencies=1024)
    # Whole-number floats (JSON) are accepted and become ints.
    p = SpectrogramParams(sample_rate=22050.0, max_frequency=11025.0)  # type: ignore[arg-type]
    assert p == SpectrogramParams(sample_rate=22050, max_frequency=11025)
    assert isinstance(p.sample_rate, int) and p.n_fft == 8820


# -- the attacks found in issue 15, each one RiffgenError at once ----------------------------


def test_huge_png_fails_before_decoding(tmp_path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("L", (9400, 9400), 255).save(path)
    assert path.stat().st_size < 200_000
    with pytest.raises(RiffgenError, match="9400 px high"):
        open_image(path)
    with Image.open(path) as lazy, pytest.raises(RiffgenError, match="9400 px high"):
        image_to_audio(lazy)
    with Image.open(path) as lazy, pytest.raises(RiffgenError, match="9400 px high"):
        mel_from_image(lazy, SpectrogramParams())


def test_very_wide_image_fails(tmp_path) -> None:
    path = tmp_path / "wide.png"
    Image.new("L", (100_000, 16), 255).save(path)
    with pytest.raises(RiffgenError, match="100000 px wide"):
        open_image(path)
    with Image.open(path) as lazy, pytest.raises(RiffgenError, match="100000 px wide"):
        image_to_audio(lazy)


@pytest.mark.parametrize(
    "tags",
    [
        {ExifTag.NUM_FREQUENCIES: 10**6},
        {ExifTag.SAMPLE_RATE: 2**31 - 1},
        {ExifTag.SAMPLE_RATE: 2**31 - 1, ExifTag.MAX_FREQUENCY: 2**30},
        {ExifTag.PADDED_DURATION_MS: 2**31 - 1},
        {ExifTag.STEP_SIZE_MS: 2**31 - 1},
        {ExifTag.POWER_FOR_IMAGE: float("nan")},
        {ExifTag.MAX_FREQUENCY: 2**31 - 1},
    ],
    ids=["mels", "rate", "rate+fmax", "padded", "step", "nan-power", "fmax"],
)
def test_hostile_exif_fails(tags) -> None:
    image = _exif_image({int(k): v for k, v in tags.items()})
    with pytest.raises(RiffgenError, match="impossible spectrogram parameters"):
        image_to_audio(image)


def test_huge_iteration_counts_fail() -> None:
    mel = torch.ones(1, 512, 4)
    params = SpectrogramParams()
    with pytest.raises(RiffgenError, match="0 to 1000"):
        params.replace(num_griffin_lim_iters=10**9)
    with pytest.raises(RiffgenError, match="0 to 1000"):
        reconstruct(mel, params, n_iter=10**9)
    with pytest.raises(RiffgenError, match="0 to 1000"):
        iteration_split(params, 10**9)
    with pytest.raises(RiffgenError, match="0 to 1000"):
        griffin_lim_original(torch.ones(1, 8821, 4), params, n_iter=10**9)


def test_long_audio_for_one_image_fails() -> None:
    with pytest.raises(RiffgenError, match="at most 600 s"):
        audio_to_image(np.zeros((1, 1000), np.float32), 1)  # 1000 s at 1 Hz
    with pytest.raises(RiffgenError, match="sample rate"):
        audio_to_image(np.zeros((1, 1000), np.float32), float("nan"))  # type: ignore[arg-type]


ATTACKS = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np
    from PIL import Image
    from riffgen.audio import SpectrogramParams, image_to_audio
    from riffgen.audio.image import open_image
    from riffgen.audio.params import ExifTag
    from riffgen.errors import RiffgenError

    tmp = sys.argv[1]
    Image.new("L", (9400, 9400), 255).save(f"{tmp}/a.png")
    Image.new("L", (100000, 16), 255).save(f"{tmp}/b.png")
    def exif_image(tag, value):
        image = Image.new("RGB", (8, 512), (255, 255, 255))
        exif = image.getexif()
        exif[int(tag)] = value
        image.info["exif"] = exif.tobytes()
        return image
    attacks = {
        "9400x9400": lambda: image_to_audio(open_image(f"{tmp}/a.png")),
        "9400x9400 lazy": lambda: image_to_audio(Image.open(f"{tmp}/a.png")),
        "100000x16": lambda: image_to_audio(Image.open(f"{tmp}/b.png")),
        "mels 1e6": lambda: image_to_audio(exif_image(ExifTag.NUM_FREQUENCIES, 10**6)),
        "rate 2^31-1": lambda: image_to_audio(exif_image(ExifTag.SAMPLE_RATE, 2**31 - 1)),
        "iterations 1e9": lambda: image_to_audio(
            Image.new("L", (64, 512), 128), SpectrogramParams().replace(num_griffin_lim_iters=10**9)
        ),
    }
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {}
    for name, attack in attacks.items():
        t0 = time.perf_counter()
        try:
            attack()
            result = "no error"
        except RiffgenError as exc:
            result = "RiffgenError: " + str(exc)
        except BaseException as exc:
            result = type(exc).__name__ + ": " + str(exc)
        out[name] = [result, time.perf_counter() - t0]
    out["rss_growth_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    print(json.dumps(out))
    """
)


def test_attacks_fail_fast_with_bounded_memory(tmp_path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", ATTACKS, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(run.stdout.strip().splitlines()[-1])
    growth = report.pop("rss_growth_mb")
    for name, (result, seconds) in report.items():
        assert result.startswith("RiffgenError: "), (name, result)
        assert "\n" not in result
        assert seconds < 5, (name, seconds)
    assert growth < 300, report


# -- property: every value works or raises RiffgenError, nothing else ------------------------

NUMBERS = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 7, 8000, 22050, 44100, 192000, 192001, 2**31 - 1, 0.5, -1]),
)
FIELDS = [
    "sample_rate",
    "step_size_ms",
    "window_duration_ms",
    "padded_duration_ms",
    "num_frequencies",
    "min_frequency",
    "max_frequency",
    "power_for_image",
    "num_griffin_lim_iters",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), NUMBERS, max_size=4))
def test_params_work_or_raise_riffgen_error(changes) -> None:
    try:
        params = SpectrogramParams(**changes)
    except RiffgenError:
        return
    # Whatever was accepted is bounded and usable: sizes derived from it are sane.
    check_params(params)
    assert 1 <= params.hop_length <= params.win_length * 1000
    assert params.n_fft <= 65_536
    check_work(params, columns=2)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([int(t) for t in ExifTag]),
        st.one_of(NUMBERS, st.text(max_size=5), st.binary(max_size=5)),
        max_size=4,
    )
)
def test_exif_works_or_raises_riffgen_error(tags) -> None:
    try:
        params = SpectrogramParams.from_exif(tags)
    except RiffgenError:
        return
    check_params(params)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=-5, max_value=10**7),
    st.integers(min_value=-5, max_value=10**7),
)
def test_sizes_work_or_raise_riffgen_error(width, height) -> None:
    try:
        check_image_size(width, height)
    except RiffgenError:
        return
    assert width <= MAX_COLUMNS and height <= 1024 and width * height <= MAX_COLUMNS * 512


@settings(max_examples=15, deadline=None)
@given(
    width=st.integers(min_value=1, max_value=40),
    height=st.integers(min_value=1, max_value=40),
    tags=st.dictionaries(
        st.sampled_from([int(t) for t in ExifTag]),
        st.integers(min_value=-(2**31), max_value=2**31 - 1),
        max_size=3,
    ),
)
def test_decoding_small_images_with_any_exif(width, height, tags) -> None:
    image = _exif_image(tags, (width, height))
    try:
        params = params_from_image(image).replace(num_griffin_lim_iters=1)
        audio, _ = image_to_audio(image, params, seed=0)
    except RiffgenError:
        return
    assert np.isfinite(audio).all()
