"""Seamless loops: clips whose end flows into their start when repeated.

Two parts, both circular along time (the image width):

1. :func:`circular_width` makes every padded ``Conv2d`` of the UNet and VAE pad the width
   circularly and the height (frequency) with zeros, so the generated spectrogram wraps
   around: column ``W-1`` continues into column 0 (attention and group norm have no edges).
   ``Conv2d(padding_mode="circular")`` would wrap the frequency axis too, so instead a forward
   pre-hook pads the input explicitly while the module's own padding is set to zero.
2. :func:`loop_audio` decodes the image with a circular Griffin-Lim
   (:mod:`riffgen.audio.circular`), giving exactly ``W * hop`` samples that repeat without a
   seam. The ordinary decode has edges: its last sample does not lead into its first.

``make_loop(pipe, prompt, ...)`` does both for ``generate --loop``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from riffgen.audio.circular import (
    circular_griffin_lim,
    circular_istft,
    circular_stft,
    loop_from_image,
)
from riffgen.audio.params import SpectrogramParams
from riffgen.diffusion.types import RiffgenOutput

__all__ = [
    "as_loop",
    "circular_griffin_lim",
    "circular_istft",
    "circular_stft",
    "circular_width",
    "loop_audio",
    "make_loop",
]


# ---------------------------------------------------------------------- circular convolutions


def _pad_hook(pad_h: int, pad_w: int):
    """Forward pre-hook: pad width circularly and height with zeros by the conv's padding."""

    def hook(module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        x = args[0]
        if pad_w:
            x = F.pad(x, (pad_w, pad_w, 0, 0), mode="circular")
        if pad_h:
            x = F.pad(x, (0, 0, pad_h, pad_h), mode="constant", value=0.0)
        return (x, *args[1:])

    return hook


def _patchable(module: torch.nn.Module) -> bool:
    # Modules already inside a (nested) circular_width block have padding (0, 0): skipped.
    return (
        isinstance(module, torch.nn.Conv2d)
        and isinstance(module.padding, tuple)
        and module.padding_mode == "zeros"
        and any(module.padding)
    )


@contextlib.contextmanager
def circular_width(*models: torch.nn.Module | None) -> Iterator[int]:
    """Within the block, every zero-padded ``Conv2d`` in ``models`` wraps along width.

    Yields the number of convolutions changed; restores them on exit (also on error).
    Uses public means only: a forward pre-hook pads the input and ``conv.padding`` is
    ``(0, 0)`` meanwhile, so ``Conv2d.forward`` (and subclasses that call ``F.conv2d`` with
    ``self.padding``) convolve the padded input unpadded.
    """
    patched: list[tuple[torch.nn.Conv2d, tuple[int, ...], Any]] = []
    try:
        for model in models:
            if model is None:
                continue
            for module in model.modules():
                if _patchable(module):
                    padding = tuple(module.padding)
                    handle = module.register_forward_pre_hook(_pad_hook(*padding))
                    patched.append((module, padding, handle))
                    module.padding = (0, 0)
        yield len(patched)
    finally:
        for module, padding, handle in patched:
            handle.remove()
            module.padding = padding


# --------------------------------------------------------------------------- loop decoding


# Columns of wrapped context each side of a vocoder loop: more than the network's receptive
# field (55 frames), so the period's first and last columns are decoded as inside the loop.
LOOP_CONTEXT_COLUMNS = 64
LOOP_SEAM_S = 0.05  # the overlap-add at the wrap of a vocoder loop


def loop_audio(
    image: Image.Image,
    params: SpectrogramParams | None = None,
    *,
    seed: int = 0,
    n_iter: int | None = None,
    device: str | torch.device = "cpu",
    decoder: str | None = None,
) -> tuple[np.ndarray, int]:
    """Spectrogram image -> one period of a seamless loop, ``width * hop`` samples.

    Griffin-Lim decoders (``"griffin-lim"``, ``"original"``): the circular Griffin-Lim of
    :func:`riffgen.audio.circular.loop_from_image`. ``"vocoder"``: the image with wrapped
    context each side, vocoded, one period cut out and its wrap overlap-added (the vocoder
    has no circular form). ``decoder`` None: :data:`~riffgen.audio.decoders.DEFAULT_DECODER`.
    Repeat the result end to end (``np.tile``).
    """
    from riffgen.audio.convert import resolve_decoder
    from riffgen.audio.image import params_from_image

    params = params or params_from_image(image)
    if resolve_decoder(decoder, params) == "vocoder":
        return _vocoder_loop(image, params, device=device)
    return loop_from_image(image, params, seed=seed, n_iter=n_iter, device=device)


def _vocoder_loop(
    image: Image.Image, params: SpectrogramParams, *, device: str | torch.device
) -> tuple[np.ndarray, int]:
    """One period of ``image`` as a loop, decoded by the vocoder (see :func:`loop_audio`)."""
    from riffgen.audio.convert import image_to_audio
    from riffgen.audio.mix import crossfade, normalize_peak

    width, hop = image.width, params.hop_length
    margin = LOOP_CONTEXT_COLUMNS
    pixels = np.asarray(image.convert("RGB"))
    wrapped = pixels[:, np.arange(-margin, width + margin) % width]
    audio, sr = image_to_audio(
        Image.fromarray(np.ascontiguousarray(wrapped)), params, device=device, decoder="vocoder"
    )
    period = width * hop
    start = margin * hop  # column 0 of the period
    seam = min(int(round(LOOP_SEAM_S * sr)), period // 4, margin * hop - 3 * hop)
    cut = _best_cut(audio, period=period, seam=seam, lo=start - 2 * hop, hi=start + 2 * hop)
    loop = audio[:, cut : cut + period].copy()
    # The wrap: the samples after the period (which continue its last sample) fade into the
    # period's own first samples. The cut is where the two agree best in phase (within
    # +-20 ms), so the overlap-add neither cancels nor doubles a partial.
    loop[:, :seam] = crossfade(audio[:, cut + period : cut + period + seam], loop[:, :seam])
    # Rotate back so sample i is at column i * hop again.
    return normalize_peak(np.roll(loop, cut - start, axis=-1)), sr


def _best_cut(audio: np.ndarray, *, period: int, seam: int, lo: int, hi: int) -> int:
    """The start in ``[lo, hi]`` where ``audio[s : s + seam]`` and ``audio[s + period :
    s + period + seam]`` correlate best (normalised), by running sums: O(samples)."""
    x = audio.astype(np.float64).sum(axis=0)
    n = hi + seam
    a, b = x[lo:n], x[lo + period : n + period]

    def windowed(v: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(v)])
        return c[seam:] - c[:-seam]

    score = windowed(a * b) / np.sqrt(windowed(a * a) * windowed(b * b) + 1e-12)
    return lo + int(np.argmax(score))


def make_loop(pipe: Any, prompt: str, **text_to_audio_kwargs: Any) -> RiffgenOutput:
    """``pipe.text_to_audio`` with circular convolutions, decoded as a seamless loop with the
    pipeline's decoder (``pipe.decoder``).

    The returned audio is one period (``width * hop`` samples, e.g. 5.12 s for 512 columns);
    ``parameters["loop"]`` is True.
    """
    with circular_width(pipe.unet, pipe.vae):
        out = pipe.text_to_audio(prompt, **text_to_audio_kwargs)
    return as_loop(out, pipe.spectrogram_params, decoder=getattr(pipe, "decoder", None))


def as_loop(
    out: RiffgenOutput, params: SpectrogramParams | None = None, *, decoder: str | None = None
) -> RiffgenOutput:
    """Re-decode a generated clip's image as a seamless loop (the image should wrap: make it
    under :func:`circular_width`) with ``decoder`` (see :func:`loop_audio`)."""
    seed = int(out.parameters.get("seed", 0) or 0) if isinstance(out.parameters, dict) else 0
    audio, sr = loop_audio(out.image, params, seed=seed, decoder=decoder)
    parameters = {**(out.parameters or {}), "loop": True}
    return RiffgenOutput(audio=audio, sample_rate=sr, image=out.image, parameters=parameters)
