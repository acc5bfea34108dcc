"""Prompt weighting ``(word:1.3)``, ``(word)``, ``[word]`` and prompts longer than 77 tokens.

A prompt is split into fragments with weights (A1111 syntax: ``(x)`` multiplies by 1.1,
``[x]`` divides by 1.1, ``(x:w)`` multiplies by ``w``; ``\\(`` escapes a bracket). The
tokens are cut into chunks of 75, each chunk wrapped in BOS/EOS and padded to 77 and encoded
separately; the chunk embeddings are concatenated along the sequence axis (cross-attention
accepts any length). A prompt of at most 75 tokens without weights encodes exactly as
diffusers' StableDiffusionPipeline does.

BERT-style tokenizers (no BOS/EOS; the mini model's MiniLM) get [CLS]/[SEP] instead, chunks of
``model_max_length - 2`` tokens, and an attention mask over the padding when the encoder's config
sets ``use_attention_mask`` (as riffgen.training's trainer does).

A tokenizer saved without ``model_max_length`` (transformers then reads its 1e30 "unset"
sentinel) gets the text encoder's ``max_position_embeddings`` instead: see :func:`max_length`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from riffgen.errors import RiffgenError

ROUND_UP = 1.1  # weight of "(word)"
# Above this a tokenizer's model_max_length means "unset": transformers writes int(1e30) for a
# tokenizer saved without one, and no text encoder has anywhere near this many positions.
MAX_SANE_LENGTH = 100_000
_TOKEN_RE = re.compile(r"\\[()\[\]\\]|\(|\)|\[|\]|:\s*([+-]?\d*\.?\d+)\s*\)|[^\\()\[\]:]+|:")


def parse_weights(text: str) -> list[tuple[str, float]]:
    """``"a (loud:1.5) [soft] drum"`` -> ``[("a ", 1.0), ("loud", 1.5), ...]`` (adjacent merged).

    Unbalanced brackets are closed at the end of the prompt instead of raising.
    """
    out: list[list] = []
    round_open: list[int] = []
    square_open: list[int] = []

    def scale(start: int, factor: float) -> None:
        for item in out[start:]:
            item[1] *= factor

    for m in _TOKEN_RE.finditer(text):
        tok, weight = m.group(0), m.group(1)
        if tok.startswith("\\"):
            out.append([tok[1:], 1.0])
        elif tok == "(":
            round_open.append(len(out))
        elif tok == "[":
            square_open.append(len(out))
        elif weight is not None and round_open:
            scale(round_open.pop(), float(weight))
        elif tok == ")" and round_open:
            scale(round_open.pop(), ROUND_UP)
        elif tok == "]" and square_open:
            scale(square_open.pop(), 1 / ROUND_UP)
        else:
            out.append([tok, 1.0])
    for start in round_open:
        scale(start, ROUND_UP)
    for start in square_open:
        scale(start, 1 / ROUND_UP)

    merged: list[tuple[str, float]] = []
    for piece, w in out:
        if merged and merged[-1][1] == w:
            merged[-1] = (merged[-1][0] + piece, w)
        elif piece:
            merged.append((piece, w))
    return merged or [("", 1.0)]


def tokenize_weighted(tokenizer, text: str) -> tuple[list[int], list[float]]:
    """Token ids (no BOS/EOS) and one weight per token."""
    ids: list[int] = []
    weights: list[float] = []
    for piece, w in parse_weights(text):
        piece_ids = tokenizer(piece, add_special_tokens=False, truncation=False).input_ids
        ids.extend(piece_ids)
        weights.extend([w] * len(piece_ids))
    return ids, weights


def _special_ids(tokenizer) -> tuple[int, int, int]:
    """(start, end, pad) token ids: CLIP's BOS/EOS, or BERT's [CLS]/[SEP] (no BOS/EOS)."""
    bos = tokenizer.bos_token_id
    eos = tokenizer.eos_token_id
    if bos is None or eos is None:
        bos, eos = tokenizer.cls_token_id, tokenizer.sep_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    return bos, eos, pad


def max_length(tokenizer, text_encoder=None) -> int:
    """Tokens per encoded chunk, BOS/EOS included (77 for SD's CLIP).

    The tokenizer's ``model_max_length``, capped at the encoder's position count (more would
    index past its position embeddings); when it is unset (None, or the 1e30 sentinel of a
    tokenizer saved without one), the encoder's ``max_position_embeddings``.
    """
    length = getattr(tokenizer, "model_max_length", None)
    config = getattr(text_encoder, "config", None)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(length, int) and 2 < length <= MAX_SANE_LENGTH:
        return min(length, positions) if isinstance(positions, int) else length
    if isinstance(positions, int) and positions > 2:
        return positions
    raise RiffgenError(
        f"the tokenizer's model_max_length is unset ({length!r}) and the text encoder"
        " gives no max_position_embeddings: set model_max_length in tokenizer_config.json"
    )


def _chunks(tokenizer, ids: list[int], weights: list[float], n_chunks: int, length: int):
    """-> (ids, weights, attention mask), each ``[n_chunks, length]``: BOS/EOS (CLIP) or
    [CLS]/[SEP] (BERT) around every chunk, then padding (mask 0)."""
    size = length - 2
    bos, eos, pad = _special_ids(tokenizer)
    all_ids, all_w, all_mask = [], [], []
    for c in range(n_chunks):
        part, part_w = ids[c * size : (c + 1) * size], weights[c * size : (c + 1) * size]
        row = [bos, *part, eos] + [pad] * (size - len(part))
        all_ids.append(row)
        all_w.append([1.0, *part_w, 1.0] + [1.0] * (size - len(part)))
        all_mask.append([1] * (len(part) + 2) + [0] * (size - len(part)))
    return torch.tensor(all_ids), torch.tensor(all_w), torch.tensor(all_mask)


def num_chunks(tokenizer, text: str, text_encoder=None) -> int:
    size = max_length(tokenizer, text_encoder) - 2
    ids, _ = tokenize_weighted(tokenizer, text)
    return max(1, -(-len(ids) // size))


@torch.no_grad()
def encode_prompts(
    tokenizer, text_encoder, prompts: Sequence[str], *, n_chunks: int | None = None
) -> torch.Tensor:
    """Embeddings ``[len(prompts), n_chunks * max_length, dim]``; all prompts padded to the same length.

    Weighted tokens scale their embedding; the result is rescaled to the unweighted mean,
    as the long-prompt-weighting pipeline of the original does.
    """
    parsed = [tokenize_weighted(tokenizer, p) for p in prompts]
    length = max_length(tokenizer, text_encoder)
    size = length - 2
    needed = max(max(1, -(-len(ids) // size)) for ids, _ in parsed)
    n_chunks = max(needed, n_chunks or 1)
    device = text_encoder.device
    # Encoders trained with a padding mask (BERT-style, riffgen.mini) get one; CLIP as SD.
    use_mask = bool(getattr(text_encoder.config, "use_attention_mask", False))
    out = []
    for ids, weights in parsed:
        chunk_ids, chunk_w, chunk_mask = _chunks(tokenizer, ids, weights, n_chunks, length)
        mask = chunk_mask.to(device) if use_mask else None
        emb = text_encoder(chunk_ids.to(device), attention_mask=mask)[0]  # [n_chunks, 77, dim]
        if bool((chunk_w != 1.0).any()):
            w = chunk_w.to(device=device, dtype=emb.dtype)
            before = emb.float().mean(dim=(-2, -1), keepdim=True)
            emb = emb * w.unsqueeze(-1)
            after = emb.float().mean(dim=(-2, -1), keepdim=True)
            emb = emb * (before / after).to(emb.dtype)
        out.append(emb.reshape(1, -1, emb.shape[-1]))
    return torch.cat(out)
