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
import dataclasses
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
        return _vocoder_loop(image, params)  # the vocoder runs where its weights are: CPU
    return loop_from_image(image, params, seed=seed, n_iter=n_iter, device=device)


def _vocoder_loop(image: Image.Image, params: SpectrogramParams) -> tuple[np.ndarray, int]:
    """One period of ``image`` as a loop, decoded by the vocoder (see :func:`loop_audio`).

    The network's outputs are local in time, so on the image with wrapped context they repeat
    with the period; its phase is an accumulation and does not. Each bin's phase is bent by a
    linear ramp over the period that closes its gap at the wrap (at most pi over the period:
    a 100-column loop moves a partial by under 0.05 Hz), and the spectrum is inverted with a
    circular inverse STFT: ``width * hop`` samples that repeat with no seam and no crossfade.
    """
    from riffgen.audio.image import mel_from_image
    from riffgen.audio.mix import normalize_peak
    from riffgen.audio.vocoder import image_head, load_vocoder

    width, margin = image.width, LOOP_CONTEXT_COLUMNS
    pixels = np.asarray(image.convert("RGB"))
    wrapped = Image.fromarray(
        np.ascontiguousarray(pixels[:, np.arange(-margin, width + margin) % width])
    )
    mel = torch.from_numpy(mel_from_image(wrapped, params)).float()
    model = load_vocoder()
    c = model.config
    with torch.inference_mode():
        head = image_head(model, mel, params.power_for_image)
        phase = head.phase[..., margin : margin + width + 1]
        gap = torch.remainder(phase[..., -1] - phase[..., 0] + torch.pi, 2 * torch.pi) - torch.pi
        ramp = torch.arange(width + 1, device=phase.device) / width
        phase = phase - gap[..., None] * ramp
        spec = torch.polar(head.magnitude[..., margin : margin + width], phase[..., :width])
        spec = F.pad(spec, (0, 0, 0, c.n_fft // 2 + 1 - spec.shape[-2]))
        ms = 1000.0 * c.n_fft / params.sample_rate
        head_params = dataclasses.replace(params, window_duration_ms=ms, padded_duration_ms=ms)
        audio = circular_istft(spec, head_params).float().cpu().numpy()
    return normalize_peak(audio), params.sample_rate


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
