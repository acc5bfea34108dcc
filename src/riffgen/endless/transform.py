"""Whole-song audio-to-audio: any length in, the same length out.

The input is cut into overlapping clip-sized windows (5.11 s at the default 512 columns);
each is transformed by ``pipe.interpolate`` at the position's point between the prompts (so a
song can move through several prompts), its level matched to the input window's, and the
windows are crossfaded back together (equal-power, correlation-aware). The last window is
placed to end exactly at the end of the song, so nothing is padded unless the whole input is
shorter than one clip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from riffgen.audio.convert import audio_to_image
from riffgen.audio.io import resample
from riffgen.audio.mix import conform_channels, crossfade, limit_peak, match_polarity
from riffgen.diffusion.types import PromptInput
from riffgen.errors import RiffgenError

MAX_GAIN_DB = 24.0


def window_starts(n: int, *, window: int, overlap: int) -> list[int]:
    """Start samples of windows covering ``[0, n)``: hop ``window - overlap``, the last one
    ending exactly at ``n`` (one window at 0 when ``n <= window``)."""
    if n <= window:
        return [0]
    hop = window - overlap
    count = math.ceil((n - window) / hop) + 1
    starts = [i * hop for i in range(count - 1)]
    return [*starts, n - window]


def prompt_at(
    prompts: Sequence[PromptInput], position: float
) -> tuple[PromptInput, PromptInput, float]:
    """Endpoints and alpha at ``position`` in [0, 1] of the song, prompts spread evenly."""
    if len(prompts) == 1:
        return prompts[0], prompts[0], 0.0
    u = min(max(position, 0.0), 1.0) * (len(prompts) - 1)
    i = min(int(u), len(prompts) - 2)
    return prompts[i], prompts[i + 1], float(u - i)


def _as_prompts(
    prompts: str | PromptInput | Sequence[str | PromptInput],
    *,
    seed: int,
    denoising: float,
    guidance: float,
    negative_prompt: str | None,
) -> list[PromptInput]:
    if isinstance(prompts, str | PromptInput):
        prompts = [prompts]
    out = []
    for p in prompts:
        if isinstance(p, str):
            p = PromptInput(
                p,
                seed=seed,
                negative_prompt=negative_prompt,
                denoising=denoising,
                guidance=guidance,
            )
        out.append(p)
    if not out:
        raise RiffgenError("transform needs at least one prompt")
    return out


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def transform_long(
    pipe: Any,
    samples: np.ndarray,
    sample_rate: int,
    prompts: str | PromptInput | Sequence[str | PromptInput],
    *,
    denoising: float = 0.75,
    guidance: float = 7.0,
    seed: int = 0,
    negative_prompt: str | None = None,
    num_inference_steps: int | None = None,
    width: int = 512,
    overlap_s: float = 0.5,
    match_level: bool = True,
    callback: Callable[[int, int], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    decoder: str | None = None,
) -> tuple[np.ndarray, int]:
    """Transform audio of any length with ``pipe`` (a ``RiffgenPipeline``).

    ``samples`` ``[channels, n]`` (or ``[n]``) at ``sample_rate`` Hz; returns ``(audio,
    sample_rate)`` with the same sample rate and exactly ``n`` samples (mono unless the model
    is stereo). ``prompts``: one prompt, or several the song moves through evenly (plain
    strings take ``seed``/``denoising``/``guidance``/``negative_prompt``; ``PromptInput`` s
    carry their own). ``width`` is the window in image columns (10 ms each), ``overlap_s``
    the crossfade between windows in seconds. ``match_level`` keeps the song's dynamics
    (each window's output gets its input's RMS, within ±24 dB). ``callback(step, total)``
    goes to every diffusion call, ``progress(done, total)`` after each window. ``decoder``
    decodes every window (None: the pipeline's own, ``pipe.decoder``);
    ``num_inference_steps`` None: the model's (``pipe.default_steps``).
    """
    from riffgen.diffusion.pipeline import decoding
    from riffgen.diffusion.types import steps_for

    num_inference_steps = steps_for(pipe, num_inference_steps)

    params = pipe.spectrogram_params
    points = _as_prompts(
        prompts,
        seed=seed,
        denoising=denoising,
        guidance=guidance,
        negative_prompt=negative_prompt,
    )
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    if audio.ndim != 2 or audio.shape[1] == 0:
        raise RiffgenError(f"expected audio shaped [channels, samples], got {audio.shape}")
    if not np.isfinite(audio).all():
        raise RiffgenError("audio contains NaN or infinite samples")
    n_in = audio.shape[1]
    sr = params.sample_rate
    work = resample(audio, sample_rate, sr) if sample_rate != sr else audio
    n = work.shape[1]
    window = params.num_samples(width)
    overlap = int(round(overlap_s * sr))
    if not 0 <= overlap < window // 2:
        raise RiffgenError(f"overlap must be 0 to {window / sr / 2:.2f} s, got {overlap_s}")
    channels = 2 if params.stereo else 1
    out = np.zeros((channels, max(n, window)), dtype=np.float32)
    starts = window_starts(n, window=window, overlap=overlap)
    prev_end = 0
    for k, start in enumerate(starts):
        chunk = work[:, start : start + window]
        if chunk.shape[1] < window:  # only when the whole song is shorter than one window
            chunk = np.pad(chunk, ((0, 0), (0, window - chunk.shape[1])))
        image = audio_to_image(chunk, sr, params)
        a, b, alpha = prompt_at(points, (start + window / 2) / max(n, 1))
        with decoding(pipe, decoder):
            result = pipe.interpolate(
                a,
                b,
                alpha,
                init_image=image,
                num_inference_steps=num_inference_steps,
                callback=callback,
            )
        y = conform_channels(result.audio, channels)
        if result.sample_rate != sr:
            y = resample(y, result.sample_rate, sr)
        y = _fit(y, window)
        if match_level:
            y = _match_level(y, chunk)
        if k == 0:
            out[:, :window] = y
        else:
            # Crossfade over ``overlap`` samples at the start of this window; everything of the
            # previous window after that is replaced (the last window may overlap more).
            xf = min(overlap, prev_end - start)
            y = match_polarity(out[:, start : start + xf], y)
            out[:, start : start + xf] = crossfade(out[:, start : start + xf], y[:, :xf])
            out[:, start + xf : start + window] = y[:, xf:]
        prev_end = start + window
        if progress is not None:
            progress(k + 1, len(starts))
    out = out[:, :n]
    if sample_rate != sr:
        out = resample(out, sr, sample_rate)
    out = _fit(out, n_in)
    return limit_peak(out), sample_rate


def _fit(audio: np.ndarray, n: int) -> np.ndarray:
    if audio.shape[1] >= n:
        return audio[:, :n]
    return np.pad(audio, ((0, 0), (0, n - audio.shape[1])))


def _match_level(y: np.ndarray, reference: np.ndarray) -> np.ndarray:
    ref, cur = _rms(reference), _rms(y)
    if cur <= 0:
        return y
    if ref <= 0:
        return y * 0.0
    gain = min(max(ref / cur, 10 ** (-MAX_GAIN_DB / 20)), 10 ** (MAX_GAIN_DB / 20))
    return (y * gain).astype(np.float32)
