"""Uploaded files: read, decoded and checked against the server's limits (422 when they fail).

Decoding runs in a worker thread, never on the event loop, and audio is measured from its header
before any of it is decoded: a 490 KB FLAC can hold an hour of silence (0.6 GB as float32).
"""

from __future__ import annotations

import io
import math

import numpy as np
from fastapi import UploadFile
from PIL import Image
from starlette.concurrency import run_in_threadpool

from riffgen.audio.io import probe_audio
from riffgen.errors import RiffgenError
from riffgen.server.codecs import decode_audio, decode_image
from riffgen.server.errors import FieldError
from riffgen.server.state import AppState


async def read_upload(upload: UploadFile | None, field: str) -> bytes:
    if upload is None:
        raise FieldError(["body", field], f"{field}: no file uploaded")
    data = await upload.read()
    if not data:
        raise FieldError(["body", field], f"{field}: empty upload")
    return data


async def upload_audio(
    state: AppState, data: bytes, field: str, start_s: float, duration_s: float | None
) -> tuple[np.ndarray, int]:
    """``[channels, n]`` samples and their rate: the part from ``start_s`` lasting ``duration_s``."""
    params = state.params
    # Eight spectrogram columns, measured in seconds: the upload's own rate may be lower.
    min_s = 8 * params.hop_length / params.sample_rate
    return await run_in_threadpool(
        _read_audio, data, field, start_s, duration_s, state.config.max_audio_s, min_s
    )


def _read_audio(
    data: bytes, field: str, start_s: float, duration_s: float | None, max_s: float, min_s: float
) -> tuple[np.ndarray, int]:
    loc = ["body", field]
    try:
        probe = probe_audio(io.BytesIO(data))
    except RiffgenError as exc:
        raise FieldError(loc, f"{field}: {exc}") from None
    sr = probe.sample_rate
    if probe.frames <= 0:
        raise FieldError(loc, f"{field}: the audio file holds no samples")
    first = int(round(start_s * sr))
    if first >= probe.frames:
        raise FieldError(
            ["body", "start_s"],
            f"start_s {start_s:g} s is past the end of the audio ({probe.duration_s:.2f} s)",
        )
    length = probe.frames - first
    if duration_s is not None:
        length = min(length, int(round(duration_s * sr)))
    limit = math.floor(max_s * sr)
    too_long = (
        f"{field}: {length / sr:.1f} s of audio, at most {max_s:g} s "
        "(pass start_s and duration_s to pick a part)"
    )
    if length > limit:
        raise FieldError(loc, too_long)
    # Decode only what the header promised (within the limit), whatever the stream holds.
    try:
        samples, sr = decode_audio(data, field=field, start_frame=first, max_frames=length)
    except RiffgenError as exc:
        raise FieldError(loc, str(exc)) from None
    if samples.shape[1] / sr < min_s:
        raise FieldError(loc, f"{field}: audio shorter than {min_s * 1000:.0f} ms")
    return samples, sr


async def upload_image(state: AppState, data: bytes, field: str) -> Image.Image:
    return await run_in_threadpool(_read_image, data, field, state.config.max_width)


def _read_image(data: bytes, field: str, max_width: int) -> Image.Image:
    try:
        image = decode_image(data, field=field)
    except RiffgenError as exc:
        raise FieldError(["body", field], str(exc)) from None
    if image.width > max_width or image.height > 1024:
        raise FieldError(
            ["body", field],
            f"{field}: {image.width}x{image.height} px; at most {max_width}x1024",
        )
    if image.width < 8 or image.height < 8:
        raise FieldError(["body", field], f"{field}: image smaller than 8x8 px")
    return image
