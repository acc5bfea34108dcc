"""An explicit tempo token for the mini model's text conditioning.

A sentence encoder hears "120 bpm" and "90 bpm" as nearly the same sentence, so a UNet
conditioned on it alone barely follows a named tempo (mini v1: 29% of rhythmic prompts within
10%). Models whose text-encoder marker sets ``"tempo_token": true`` get one more token after
the encoder's hidden states: a fixed (not learned) sinusoidal code of log2(BPM), parsed from
the prompt's own words, so every path that encodes a prompt (generation, negative prompts,
weights, interpolation, training) carries it without knowing about it.

- a number before "bpm" / "beats per minute" is the tempo;
- otherwise a tempo word ("slow", "upbeat", "mid-tempo", ...) gives its band's middle;
- otherwise (and for the empty prompt of classifier-free guidance) the token is zeros.
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch
from torch import nn

MIN_BPM, MAX_BPM = 40.0, 240.0
# The middle of each tempo band of riffgen.synth.compose.TEMPO_BANDS (60-89, 90-129, 130-180).
BAND_BPM = {"slow": 75.0, "medium": 110.0, "fast": 150.0}
# Every word the synthetic captions use for a band (riffgen.synth.captions.TEMPO_VOCABULARY,
# checked by a test), then everyday synonyms a user might type.
TEMPO_WORDS: dict[str, tuple[str, ...]] = {
    "slow": (
        "slow", "laid-back", "unhurried", "slow-paced", "leisurely", "relaxed", "downtempo",
        "lazy", "ballad",
    ),
    "medium": (
        "mid-tempo", "moderate", "steady", "medium-tempo", "moderately paced", "medium",
        "midtempo",
    ),
    "fast": (
        "fast", "upbeat", "energetic", "driving", "quick", "up-tempo", "brisk", "uptempo",
        "frantic", "rapid",
    ),
}  # fmt: skip
_BPM = re.compile(r"(\d{2,3}(?:\.\d+)?)\s*(?:bpm|b\.p\.m\.?|beats per minute)", re.IGNORECASE)
# Longest phrases first, so "mid-tempo" is not read as "tempo" and "slow-paced" not as "slow".
_WORDS = sorted(
    ((w, band) for band, words in TEMPO_WORDS.items() for w in words), key=lambda x: -len(x[0])
)
N_FREQUENCIES = 24  # sin/cos pairs; the rest of the token is zeros


def named_bpm(text: str) -> float | None:
    """The tempo a prompt states as a number (``"... at 96 bpm"``), clamped to 40-240; None
    when it states none (words such as "fast" do not count)."""
    match = _BPM.search(text)
    return min(MAX_BPM, max(MIN_BPM, float(match.group(1)))) if match else None


def parse_tempo(text: str) -> float | None:
    """The tempo (BPM) a prompt asks for, or None when it names none.

    A number outside 40-240 BPM is clamped into it (a typo should not make noise out of range).
    """
    bpm = named_bpm(text)
    if bpm is not None:
        return bpm
    lowered = text.lower()
    for word, band in _WORDS:
        if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", lowered):
            return BAND_BPM[band]
    return None


def tempo_code(bpm: float | None, *, dim: int) -> torch.Tensor:
    """``[dim]`` unit-norm code of ``bpm``: sin/cos of log2(BPM) at frequencies from 0.25 to
    12 cycles per octave (so 10% apart is clearly apart, octaves stay distinct); zeros for
    None."""
    code = torch.zeros(dim)
    if bpm is None:
        return code
    octave = math.log2(bpm)
    n = min(N_FREQUENCIES, dim // 2)
    freqs = 0.25 * (48.0 ** (torch.arange(n) / max(1, n - 1)))
    angles = 2 * math.pi * freqs * octave
    code[: 2 * n] = torch.cat([torch.sin(angles), torch.cos(angles)])
    return code / code.norm()


class TempoTextEncoder(nn.Module):
    """A text encoder plus one tempo token: ``forward(ids, attention_mask)`` returns
    ``(hidden [B, T + 1, D],)`` where the last token is :func:`tempo_code` of the prompt,
    scaled to the mean norm of the prompt's own (unmasked) tokens."""

    def __init__(self, encoder: nn.Module, tokenizer: Any) -> None:
        super().__init__()
        self.encoder = encoder
        self._tokenizer = tokenizer  # decodes ids back to words; not a module, not saved

    @property
    def config(self) -> Any:
        return self.encoder.config

    @property
    def device(self) -> torch.device:
        return next(self.encoder.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.encoder.parameters()).dtype

    def prompt_tempo(self, ids: torch.Tensor) -> float | None:
        text = self._tokenizer.decode(ids.tolist(), skip_special_tokens=True)
        return parse_tempo(text.replace(" - ", "-"))  # BERT splits "mid-tempo" to "mid - tempo"

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs: Any
    ) -> tuple[torch.Tensor]:
        hidden = self.encoder(input_ids, attention_mask=attention_mask, **kwargs)[0]
        weights = (
            attention_mask.to(hidden.dtype)
            if attention_mask is not None
            else torch.ones(hidden.shape[:2], dtype=hidden.dtype, device=hidden.device)
        )
        norms = hidden.float().norm(dim=-1)
        scale = (norms * weights).sum(1) / weights.sum(1).clamp(min=1)
        codes = torch.stack(
            [tempo_code(self.prompt_tempo(row), dim=hidden.shape[-1]) for row in input_ids.cpu()]
        ).to(hidden.device)
        token = (codes * scale[:, None]).to(hidden.dtype)
        return (torch.cat([hidden, token[:, None]], dim=1),)
