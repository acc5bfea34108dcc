"""The mini v2 tempo token: parsed from the prompt's words, carried by every encoding path."""

from __future__ import annotations

import pytest
import torch

from riffgen.diffusion.prompts import encode_prompts
from riffgen.models import configs, registry, text
from riffgen.models.tempo import BAND_BPM, parse_tempo, tempo_code
from riffgen.synth.captions import TEMPO_VOCABULARY


@pytest.mark.parametrize(
    ("prompt", "bpm"),
    [
        ("funk groove at 96 bpm", 96.0),
        ("techno, 128 BPM, dark", 128.0),
        ("a waltz at 84.5 beats per minute", 84.5),
        ("fast punk drum beat with distorted guitar", BAND_BPM["fast"]),
        ("a mid-tempo jazz trio", BAND_BPM["medium"]),
        ("slow-paced piano", BAND_BPM["slow"]),
        ("upbeat ukulele, 100 bpm", 100.0),  # the number wins over the word
        ("church bells", None),
        ("", None),
        ("breakcore at 999 bpm", 240.0),  # clamped, not noise out of range
        ("steadycam", None),  # a word inside another word is not a tempo
    ],
)
def test_parse_tempo(prompt: str, bpm: float | None) -> None:
    assert parse_tempo(prompt) == bpm


def test_every_caption_tempo_word_parses_to_its_band() -> None:
    for band, words in TEMPO_VOCABULARY.items():
        for word in words:
            assert parse_tempo(f"a {word} violin melody") == BAND_BPM[band], word


def test_tempo_code_tells_ten_percent_apart_and_is_zero_without_tempo() -> None:
    a, near, far = (tempo_code(b, dim=384) for b in (120.0, 121.0, 132.0))
    assert torch.allclose(a.norm(), torch.tensor(1.0))
    assert float(a @ near) > 0.9  # 1% apart: nearly the same code
    assert float(a @ far) < 0.5  # 10% apart: clearly another code
    assert not tempo_code(None, dim=384).any()


@pytest.fixture(scope="module")
def mini_parts() -> registry.Components:
    return registry.build_components(configs.mini_spec(), seed=0)


def test_encoding_appends_the_prompts_tempo_token(mini_parts: registry.Components) -> None:
    emb = encode_prompts(
        mini_parts.tokenizer, mini_parts.text_encoder, ["a mid-tempo bass riff at 120 bpm", ""]
    )
    assert emb.shape == (2, text.MAX_TOKENS + 1, text.TEXT_DIM)
    token = emb[0, -1]
    # the code of 120 BPM (after BERT's "mid - tempo" split), at the prompt tokens' scale
    assert torch.allclose(token / token.norm(), tempo_code(120.0, dim=text.TEXT_DIM), atol=1e-5)
    assert 0.5 * emb[0, :-1].norm(dim=-1).mean() < token.norm() < 2 * emb[0, :-1].norm(dim=-1).max()
    assert not emb[1, -1].any()  # the empty (unconditional) prompt: no tempo


def test_the_marker_round_trips_and_v1_markers_have_no_token(tmp_path) -> None:
    text.write_markers(tmp_path / "v2", tempo_token=True)
    text.write_markers(tmp_path / "v1")
    assert text.read_marker(tmp_path / "v2")["tempo_token"] is True
    v1 = text.read_marker(tmp_path / "v1")
    assert "tempo_token" not in v1  # folders written before the token are unchanged
    encoder = text.packaged_text_encoder(v1)
    tokenizer = text.packaged_tokenizer(v1)
    assert encode_prompts(tokenizer, encoder, ["fast drums"]).shape[1] == text.MAX_TOKENS
