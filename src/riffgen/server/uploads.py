"""Uploaded files: read, decoded and checked against the server's limits (422 when they fail)."""

from __future__ import annotations

import numpy as np
from fastapi import UploadFile
from PIL import Image

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


def upload_audio(
    state: AppState, data: bytes, field: str, start_s: float, duration_s: float | None
) -> tuple[np.ndarray, int]:
    """``[channels, n]`` samples and their rate: the part from ``start_s`` lasting ``duration_s``."""
    try:
        samples, sr = decode_audio(data, field=field)
    except RiffgenError as exc:
        raise FieldError(["body", field], str(exc)) from None
    first = int(round(start_s * sr))
    if first >= samples.shape[1]:
        raise FieldError(
            ["body", "start_s"],
            f"start_s {start_s:g} s is past the end of the audio ({samples.shape[1] / sr:.2f} s)",
        )
    last = samples.shape[1] if duration_s is None else first + int(round(duration_s * sr))
    samples = samples[:, first:last]
    length_s = samples.shape[1] / sr
    max_s = state.config.max_audio_s
    if length_s > max_s:
        raise FieldError(
            ["body", field],
            f"{field}: {length_s:.1f} s of audio, at most {max_s:g} s "
            "(pass start_s and duration_s to pick a part)",
        )
    # Eight spectrogram columns, measured in seconds: the upload's own rate may be lower.
    params = state.params
    min_s = 8 * params.hop_length / params.sample_rate
    if length_s < min_s:
        raise FieldError(["body", field], f"{field}: audio shorter than {min_s * 1000:.0f} ms")
    return samples, sr


def upload_image(state: AppState, data: bytes, field: str) -> Image.Image:
    try:
        image = decode_image(data, field=field)
    except RiffgenError as exc:
        raise FieldError(["body", field], str(exc)) from None
    max_width = state.config.max_width
    if image.width > max_width or image.height > 1024:
        raise FieldError(
            ["body", field],
            f"{field}: {image.width}x{image.height} px; at most {max_width}x1024",
        )
    if image.width < 8 or image.height < 8:
        raise FieldError(["body", field], f"{field}: image smaller than 8x8 px")
    return image
