"""Prompt chunking and weighting with the mini model's BERT tokenizer ([CLS]/[SEP], masks)."""

from __future__ import annotations

import pytest
import torch

from riffgen.diffusion.prompts import encode_prompts, num_chunks
from riffgen.models.text import load_tokenizer, write_markers


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mini_markers")
    write_markers(folder, max_tokens=16)
    return load_tokenizer(folder)


@pytest.fixture(scope="module")
def encoder():
    """A tiny random BertModel with the real vocabulary size, masking padding as the mini."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    model = BertModel(
        BertConfig(
            vocab_size=30522,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=64,
        )
    ).eval()
    model.config.use_attention_mask = True
    return model


def test_tokenizer_has_no_bos_eos_but_cls_sep(tokenizer):
    assert tokenizer.model_max_length == 16
    assert tokenizer.bos_token_id is None
    assert (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id) == (101, 102, 0)


def test_short_prompt_encodes_like_the_trainer(tokenizer, encoder):
    """Generation must see exactly what training saw: [CLS] ids [SEP] [PAD]... with a mask."""
    text = "a slow piano melody"
    emb = encode_prompts(tokenizer, encoder, [text])
    tokens = tokenizer(
        [text], padding="max_length", max_length=16, truncation=True, return_tensors="pt"
    )
    assert tokens.input_ids[0, 0] == 101
    with torch.no_grad():
        expected = encoder(tokens.input_ids, attention_mask=tokens.attention_mask)[0]
    assert emb.shape == (1, 16, 32)
    torch.testing.assert_close(emb, expected)


def test_long_prompt_is_chunked(tokenizer, encoder):
    long = ", ".join(["bright acoustic guitar arpeggio"] * 6)
    n = num_chunks(tokenizer, long)
    assert n >= 2
    emb = encode_prompts(tokenizer, encoder, [long, "drums"])
    assert emb.shape == (2, n * 16, 32)  # the short prompt is padded to the same chunks
    assert torch.isfinite(emb).all()


def test_weighted_prompt_changes_the_embedding(tokenizer, encoder):
    plain = encode_prompts(tokenizer, encoder, ["soft piano and loud drums"])
    weighted = encode_prompts(tokenizer, encoder, ["soft piano and (loud drums:1.5)"])
    same = encode_prompts(tokenizer, encoder, ["soft piano and (loud drums:1.0)"])
    assert plain.shape == weighted.shape
    assert not torch.allclose(plain, weighted)
    torch.testing.assert_close(plain, same)
