"""The names of the image -> audio decoders and the default one (no torch: the CLI reads them).

``griffin-lim`` is riffgen's fast coarse-to-fine phase recovery (``algorithm="riffgen"``),
``original`` the least-squares + Griffin-Lim of the original Riffusion, ``vocoder`` riffgen's
neural vocoder (:mod:`riffgen.audio.vocoder`), which falls back to ``griffin-lim`` for images
it cannot decode.
"""

from __future__ import annotations

from riffgen.errors import RiffgenError

DECODERS = ("griffin-lim", "vocoder", "original")
# The one place the default lives: every command, the server and the Python API read it.
# Griffin-Lim until the vocoder measures better (bench/bench_decoder.py).
DEFAULT_DECODER = "griffin-lim"
# ``image_to_audio(algorithm=...)``, the older spelling, -> decoder name.
ALGORITHM_DECODERS = {"riffgen": "griffin-lim", "original": "original"}


def check_decoder(name: object) -> str:
    """``name`` if it is a decoder name; a one-line :class:`RiffgenError` otherwise."""
    if not isinstance(name, str) or name not in DECODERS:
        shown = repr(name) if len(repr(name)) <= 40 else repr(name)[:37] + "..."
        raise RiffgenError(f"unknown decoder {shown}: use one of {', '.join(DECODERS)}")
    return name
