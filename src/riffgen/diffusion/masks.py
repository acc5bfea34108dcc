"""Inpainting masks: from an image, a time range or a frequency range; latent masks; blending.

Convention everywhere: a float array ``[height, width]`` in [0, 1] in image orientation (row 0
is the highest frequency), 1 = repaint (white), 0 = keep (black), as in the original.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter

from riffgen.audio import SpectrogramParams
from riffgen.audio.mel import hz_to_mel, mel_to_hz
from riffgen.errors import RiffgenError

FEATHER_SIGMA_PX = 3.0  # edge blend: the kept side stays exact, ~6 px ramp on the repaint side


def mask_from_image(mask_image: Image.Image, *, width: int, height: int) -> np.ndarray:
    """Grayscale luminance / 255, resized (nearest) to ``width`` x ``height`` px if needed."""
    gray = mask_image.convert("L")
    if gray.size != (width, height):
        gray = gray.resize((width, height), resample=Image.NEAREST)
    return np.asarray(gray, dtype=np.float32) / 255.0


def row_frequencies(params: SpectrogramParams) -> np.ndarray:
    """Centre frequency (Hz) of each image row, top row first (highest frequency)."""
    n = params.num_frequencies
    mels = torch.linspace(hz_to_mel(params.min_frequency), hz_to_mel(params.max_frequency), n + 2)
    centres = mel_to_hz(mels[1:-1]).numpy()
    return centres[::-1].copy()


def mask_from_ranges(
    params: SpectrogramParams,
    *,
    width: int,
    start_s: float | None = None,
    end_s: float | None = None,
    min_hz: float | None = None,
    max_hz: float | None = None,
) -> np.ndarray:
    """Repaint the time range [start_s, end_s) (s) x frequency range [min_hz, max_hz] (Hz).

    A missing bound means "from the start / to the end" of that axis. Raises RiffgenError
    naming the value when a range is empty or outside the clip.
    """
    duration = params.num_samples(width) / params.sample_rate
    t0 = 0.0 if start_s is None else float(start_s)
    t1 = duration if end_s is None else float(end_s)
    if t0 < 0:
        raise RiffgenError(f"start must be >= 0 s, got {t0}")
    if t0 >= duration:
        raise RiffgenError(f"start {t0} s is past the end of the clip ({duration:.2f} s)")
    if t1 <= t0:
        raise RiffgenError(f"end ({t1} s) must be after start ({t0} s)")
    f0 = float(params.min_frequency) if min_hz is None else float(min_hz)
    f1 = float(params.max_frequency) if max_hz is None else float(max_hz)
    nyquist = params.sample_rate / 2
    if f0 < 0 or f0 > nyquist:
        raise RiffgenError(f"min frequency must be in 0-{nyquist:g} Hz, got {f0}")
    if f1 <= f0:
        raise RiffgenError(f"max frequency ({f1} Hz) must be above min frequency ({f0} Hz)")

    column_times = np.arange(width) * params.step_size_ms / 1000.0
    cols = (column_times >= t0) & (column_times < t1)
    freqs = row_frequencies(params)
    rows = (freqs >= f0) & (freqs <= f1)
    if not rows.any():  # a band narrower than one mel bin: take the nearest bin
        rows[np.argmin(np.abs(freqs - (f0 + f1) / 2))] = True
    return (rows[:, None] & cols[None, :]).astype(np.float32)


def latent_keep_original(mask: np.ndarray, *, factor: int) -> torch.Tensor:
    """The original's latent mask: nearest resize to latent size, 1 = keep. ``[1, 4, h, w]``."""
    h, w = mask.shape
    img = Image.fromarray(np.round(mask * 255).astype(np.uint8), mode="L")
    small = img.resize((w // factor, h // factor), resample=Image.NEAREST)
    repaint = np.asarray(small, dtype=np.float32) / 255.0
    return torch.from_numpy(1.0 - repaint)[None, None].repeat(1, 4, 1, 1)


def latent_keep_covering(mask: np.ndarray, *, factor: int) -> torch.Tensor:
    """Latent mask that repaints every latent cell touching a repaint pixel. ``[1, 4, h, w]``.

    Max-pooling (not nearest sampling) so the generated latent covers the whole repaint
    region; the kept pixels are restored exactly by :func:`composite` anyway.
    """
    t = torch.from_numpy(np.ascontiguousarray(mask))[None, None]
    repaint = torch.nn.functional.max_pool2d(t, kernel_size=factor, stride=factor)
    return (1.0 - repaint).repeat(1, 4, 1, 1)


def blend_weights(mask: np.ndarray, *, sigma_px: float = FEATHER_SIGMA_PX) -> np.ndarray:
    """Per-pixel weight of the generated image: 0 wherever ``mask`` is 0 (kept exactly),
    ramping up to ``mask`` over ~2 sigma px inside the repaint region (soft edge)."""
    if sigma_px <= 0:
        return mask.astype(np.float32)
    blurred = gaussian_filter((mask > 0).astype(np.float32), sigma=sigma_px, mode="nearest")
    ramp = np.clip(2.0 * blurred - 1.0, 0.0, 1.0)
    return (mask * ramp * (mask > 0)).astype(np.float32)


def composite(original: Image.Image, generated: Image.Image, weights: np.ndarray) -> Image.Image:
    """``original`` where ``weights`` is 0, ``generated`` where 1, linear blend between."""
    a = np.asarray(original.convert("RGB"), dtype=np.float32)
    b = np.asarray(generated.convert("RGB"), dtype=np.float32)
    w = weights[..., None]
    out = np.round(a * (1.0 - w) + b * w)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), mode="RGB")
