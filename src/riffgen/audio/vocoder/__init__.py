"""Neural vocoder for spectrogram images: mel image -> waveform in one network pass.

``vocode`` decodes; ``vocode_or_none`` is what :func:`riffgen.audio.image_to_audio` calls:
when the weights are unusable or the image is in a format the vocoder was not trained for,
it says why once on stderr and returns None so the caller falls back to Griffin-Lim.
"""

from __future__ import annotations

import os
import sys
import threading

import torch

from riffgen.audio.params import SpectrogramParams
from riffgen.audio.vocoder.model import (
    IMAGE_FIELDS,
    HeadSpectrum,
    Vocoder,
    VocoderConfig,
    features_from_mel,
)
from riffgen.audio.vocoder.weights import DEFAULT_WEIGHTS, load_vocoder, save_vocoder
from riffgen.errors import RiffgenError

__all__ = [
    "DEFAULT_WEIGHTS",
    "Vocoder",
    "VocoderConfig",
    "features_from_mel",
    "image_head",
    "load_vocoder",
    "save_vocoder",
    "say_once",
    "unsupported_reason",
    "vocode",
    "vocode_or_none",
    "vocoder_problem",
]

_said: set[str] = set()
_said_lock = threading.Lock()


def unsupported_reason(config: VocoderConfig, params: SpectrogramParams) -> str | None:
    """Why a vocoder with ``config`` cannot decode images with ``params`` (None: it can)."""
    if params.num_frequencies not in config.mels:
        mels = ", ".join(str(m) for m in config.mels)
        return f"{params.num_frequencies} mel bins (it reads {mels})"
    for name in IMAGE_FIELDS:
        want, got = config.image[name], getattr(params, name)
        if float(want) != float(got):
            return f"{name.replace('_', ' ')} {got} (trained for {want})"
    return None


def vocode(
    mel: torch.Tensor,
    params: SpectrogramParams,
    *,
    model: Vocoder | None = None,
    chunk_frames: int = 2048,
) -> torch.Tensor:
    """Mel spectrogram ``(channels, n_mels, frames)`` as decoded from an image -> waveform
    ``(channels, (frames - 1) * hop)``; stereo images decode one channel at a time.

    ``model`` defaults to the shipped weights. Raises :class:`RiffgenError` when the model
    was not trained for ``params``. Wide images run in chunks of ``chunk_frames`` columns
    with overlapping context, so memory stays bounded.
    """
    model = model or load_vocoder()
    reason = unsupported_reason(model.config, params)
    if reason is not None:
        raise RiffgenError(f"the vocoder was not trained for images with {reason}")
    with torch.inference_mode():
        head = image_head(model, mel, params.power_for_image, chunk_frames=chunk_frames)
        return model.waveform(torch.polar(head.magnitude, head.phase)).to(mel.device)


def image_head(
    model: Vocoder, mel: torch.Tensor, power: float, *, chunk_frames: int = 2048
) -> HeadSpectrum:
    """The vocoder's spectrum for one image's mel ``(channels, n_mels, frames)``.

    The image is normalised to its maximum over all channels, as the format is, so a quieter
    channel stays quieter. Each channel keeps its own magnitude; with several channels they
    share one phase, the one the vocoder gives their mean (as Griffin-Lim links stereo
    channels): decoded on its own, each channel's accumulated phase drifts from the other's
    and a real stereo clip's left/right correlation falls from 0.71 to 0.13.
    """
    device = next(model.parameters()).device
    mel = mel.float()
    peak = mel.amax()

    def head(m: torch.Tensor) -> HeadSpectrum:
        features = features_from_mel(m, power, peak=peak).to(device)
        return model.magnitude_phase(_frames(model, features, chunk_frames))

    own = head(mel)
    if mel.shape[0] == 1:
        return own
    shared = head(mel.mean(0, keepdim=True))
    return own._replace(phase=shared.phase.expand_as(own.phase))


def _frames(model: Vocoder, features: torch.Tensor, chunk: int) -> torch.Tensor:
    """The backbone's head output in chunks of ``chunk`` frames (with context), so memory
    stays bounded; the phase recurrence then runs over the whole image: seams are invisible."""
    frames = features.shape[-1]
    if frames <= chunk:
        return model.frames(features)
    # The receptive field is layers * (kernel - 1) + kernel frames (55 by default); a margin
    # of 64 frames each side gives every kept frame its full context.
    margin = 64
    pieces = []
    for start in range(0, frames, chunk):
        lo, hi = max(start - margin, 0), min(start + chunk + margin, frames)
        out = model.frames(features[..., lo:hi])
        pieces.append(out[..., start - lo : min(start + chunk, frames) - lo])
    return torch.cat(pieces, dim=-1)


def vocoder_problem(
    params: SpectrogramParams, *, weights: str | os.PathLike[str] | None = None
) -> str | None:
    """Why the vocoder at ``weights`` (default shipped) cannot decode images with ``params``:
    unusable weights or an image format it was not trained for. None: it can."""
    try:
        model = load_vocoder(weights)
    except RiffgenError as exc:
        return str(exc)
    except ImportError as exc:  # safetensors missing from a stripped-down install
        return f"the vocoder cannot be loaded ({exc})"
    reason = unsupported_reason(model.config, params)
    return None if reason is None else f"the vocoder was not trained for images with {reason}"


def vocode_or_none(
    mel: torch.Tensor,
    params: SpectrogramParams,
    *,
    weights: str | os.PathLike[str] | None = None,
) -> torch.Tensor | None:
    """:func:`vocode` with the weights at ``weights`` (default shipped), or None after saying
    once on stderr why the vocoder cannot be used (the caller then uses Griffin-Lim).

    Besides :func:`vocoder_problem`'s reasons, a network that fails while decoding (a tensor
    error) or gives NaN/infinite samples falls back too, so a bad decoder never ends a jam.
    """
    problem = vocoder_problem(params, weights=weights)
    if problem is None:
        try:
            wav = vocode(mel, params, model=load_vocoder(weights))
        except RiffgenError as exc:
            problem = str(exc)
        except RuntimeError as exc:
            problem = f"the vocoder failed ({_first_line(exc)})"
        else:
            if bool(torch.isfinite(wav).all()):
                return wav
            problem = "the vocoder gave NaN or infinite samples"
    say_once(f"riffgen: {problem}; using Griffin-Lim instead")
    return None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def say_once(message: str) -> None:
    """Print ``message`` on stderr the first time this process sees it (not once per clip)."""
    _say_once(message)


def _say_once(message: str) -> None:
    with _said_lock:
        if message in _said:
            return
        _said.add(message)
    print(message, file=sys.stderr)
