"""CLIP vocabulary and prompt weighting / chunking."""

from __future__ import annotations

import pytest
import torch

from riffgen.models.text import load_clip_tokenizer
from riffgen.diffusion.prompts import encode_prompts, num_chunks, parse_weights


@pytest.fixture(scope="module")
def tokenizer():
    return load_clip_tokenizer()


def test_real_clip_vocabulary(tokenizer):
    assert len(tokenizer) == 49408
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tokenizer.model_max_length == 77


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", [("plain text", 1.0)]),
        ("a (loud:1.5) b", [("a ", 1.0), ("loud", 1.5), (" b", 1.0)]),
        ("(x)", [("x", pytest.approx(1.1))]),
        ("((x))", [("x", pytest.approx(1.21))]),
        ("[x]", [("x", pytest.approx(1 / 1.1))]),
        (r"\(literal\)", [("(literal)", 1.0)]),
        ("time: 3pm", [("time: 3pm", 1.0)]),
        ("", [("", 1.0)]),
    ],
)
def test_parse_weights(text, expected):
    assert parse_weights(text) == expected


def test_unbalanced_brackets_do_not_raise():
    assert parse_weights("(open")[0][0] == "open"
    assert parse_weights("close)") == [("close)", 1.0)]


def test_short_prompt_encodes_like_diffusers(debug_pipeline):
    tok, enc = debug_pipeline.tokenizer, debug_pipeline.text_encoder
    ours = encode_prompts(tok, enc, ["funky bass line"])
    ids = tok("funky bass line", padding="max_length", max_length=77, return_tensors="pt")
    with torch.no_grad():
        ref = enc(ids.input_ids)[0]
    assert ours.shape == (1, 77, ref.shape[-1])
    assert torch.equal(ours, ref)


def test_long_prompt_is_chunked(debug_pipeline):
    tok, enc = debug_pipeline.tokenizer, debug_pipeline.text_encoder
    long = " ".join(["jazzy saxophone solo over a slow groove"] * 20)  # ~140 tokens
    assert num_chunks(tok, long) == 2
    emb = encode_prompts(tok, enc, [long, ""])
    assert emb.shape[:2] == (2, 154)
    assert torch.isfinite(emb).all()


def test_weight_changes_embedding(debug_pipeline):
    tok, enc = debug_pipeline.tokenizer, debug_pipeline.text_encoder
    a, b, c = encode_prompts(tok, enc, ["piano drums", "piano (drums:1.5)", "piano drums"])
    assert torch.equal(a, c)
    assert not torch.equal(a, b)
