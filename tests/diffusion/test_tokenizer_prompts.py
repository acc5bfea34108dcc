"""CLIP vocabulary and prompt weighting / chunking."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from riffgen.diffusion import RiffgenPipeline
from riffgen.diffusion.prompts import encode_prompts, max_length, num_chunks, parse_weights
from riffgen.errors import RiffgenError
from riffgen.models.text import load_clip_tokenizer


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


@pytest.mark.parametrize("unset", [None, int(1e30)])
def test_unset_model_max_length_falls_back_to_the_encoder(unset):
    encoder = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=77))
    assert max_length(SimpleNamespace(model_max_length=unset), encoder) == 77
    assert max_length(SimpleNamespace(model_max_length=16), encoder) == 16  # BERT's marker
    assert max_length(SimpleNamespace(model_max_length=512), encoder) == 77  # no more positions
    with pytest.raises(RiffgenError, match="model_max_length"):
        max_length(SimpleNamespace(model_max_length=unset), None)


def test_model_folder_whose_tokenizer_has_no_max_length(debug_model_dir, debug_pipeline, tmp_path):
    """transformers reads such a tokenizer as model_max_length=int(1e30); generation used to
    fail with OverflowError. It now encodes with the encoder's 77 positions, as before."""
    model = shutil.copytree(debug_model_dir, tmp_path / "model")
    config_path = model / "tokenizer" / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.pop("model_max_length", None)
    config_path.write_text(json.dumps(config))
    pipe = RiffgenPipeline.from_pretrained(model, device="cpu", dtype="fp32")
    assert pipe.tokenizer.model_max_length > 10**20  # the sentinel, whatever loads it

    out = pipe.text_to_audio("x", num_inference_steps=2, width=64)
    ref = debug_pipeline.text_to_audio("x", num_inference_steps=2, width=64)
    assert np.array_equal(out.audio, ref.audio)
