"""The neural vocoder: shapes, determinism, weights on disk, and the Griffin-Lim fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from riffgen.audio.params import SpectrogramParams
from riffgen.audio.vocoder import (
    Vocoder,
    VocoderConfig,
    _frames,
    features_from_mel,
    load_vocoder,
    save_vocoder,
    unsupported_reason,
    vocode,
    vocode_or_none,
)

TINY = VocoderConfig(dim=16, intermediate=32, layers=2)


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Vocoder, Path]:
    torch.manual_seed(0)
    model = Vocoder(TINY).eval()
    path = save_vocoder(tmp_path / "tiny.safetensors", model, dtype=torch.float32)
    return model, path


def test_shapes_mono_stereo_and_mini_format(tiny) -> None:
    model, _ = tiny
    for channels, mels in ((1, 512), (2, 512), (1, 128)):
        mel = torch.rand(channels, mels, 40)
        wav = vocode(mel, SpectrogramParams(num_frequencies=mels), model=model)
        assert wav.shape == (channels, 39 * 441)
        assert torch.isfinite(wav).all()


def test_deterministic_scale_free_and_chunk_seams_invisible(tiny) -> None:
    model, _ = tiny
    mel = torch.rand(1, 512, 300) ** 4
    a = vocode(mel, SpectrogramParams(), model=model)
    assert torch.equal(a, vocode(mel, SpectrogramParams(), model=model))
    # The image format is normalised to its maximum: the decoded scale must not matter (up to
    # float rounding, which the phase recurrence carries along).
    tol = 1e-4 * float(a.abs().max())
    assert torch.allclose(a, vocode(mel * 1234.5, SpectrogramParams(), model=model), atol=tol)
    with torch.inference_mode():
        pieces = model.synthesize(_frames(model, features_from_mel(mel, 0.25), 100))
    assert torch.allclose(a, pieces, atol=tol)


def test_weights_round_trip(tiny) -> None:
    model, path = tiny
    loaded = load_vocoder(path)
    assert loaded.config == TINY
    mel = torch.rand(1, 512, 20)
    assert torch.equal(
        vocode(mel, SpectrogramParams(), model=model),
        vocode(mel, SpectrogramParams(), model=loaded),
    )


def test_weights_saved_before_the_phase_range_and_skip_path_keep_their_meaning() -> None:
    """v0 weights (shipped before the phase losses) name neither field: they load as v0 was
    built, a pi/4 phase-advance range and no skip path."""
    old = {k: v for k, v in TINY.to_json().items() if k not in ("deviation", "skip")}
    config = VocoderConfig.from_json(old)
    assert config.deviation == 0.25 and config.skip is False
    assert not hasattr(Vocoder(config), "skip")
    assert VocoderConfig.from_json(TINY.to_json()) == TINY  # new weights: as saved


def test_unsupported_formats_are_named() -> None:
    assert unsupported_reason(TINY, SpectrogramParams()) is None
    assert unsupported_reason(TINY, SpectrogramParams(stereo=True)) is None
    assert "256 mel bins" in unsupported_reason(TINY, SpectrogramParams(num_frequencies=256))
    assert "sample rate 22050" in unsupported_reason(TINY, SpectrogramParams(sample_rate=22050))
    assert "max frequency" in unsupported_reason(TINY, SpectrogramParams(max_frequency=8000))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00" * 3, "unreadable"),
        (b"not a safetensors file at all" * 20, "unreadable"),
        (None, "not riffgen vocoder weights"),
        ("missing", "not found"),
    ],
)
def test_bad_weights_fall_back_with_one_message(tmp_path, capsys, content, message) -> None:
    path = tmp_path / f"bad-{message.replace(' ', '_')}.safetensors"
    if content is None:  # a valid safetensors file that holds something else
        from safetensors.torch import save_file

        save_file({"x": torch.zeros(3)}, str(path))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    mel = torch.rand(1, 512, 10)
    assert vocode_or_none(mel, SpectrogramParams(), weights=path) is None
    assert vocode_or_none(mel, SpectrogramParams(), weights=path) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Griffin-Lim" in err[0]


def test_mismatched_tensors_are_refused(tmp_path, tiny, capsys) -> None:
    from safetensors.torch import load_file, save_file

    _, path = tiny
    tensors = load_file(str(path))
    tensors.pop("head.bias")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    broken = tmp_path / "broken.safetensors"
    save_file(tensors, str(broken), metadata=metadata)
    assert vocode_or_none(torch.rand(1, 512, 10), SpectrogramParams(), weights=broken) is None
    assert "do not match their config" in capsys.readouterr().err


def test_untrained_format_falls_back(tiny, capsys) -> None:
    _, path = tiny
    mel = torch.rand(1, 64, 10)
    assert vocode_or_none(mel, SpectrogramParams(num_frequencies=64), weights=path) is None
    assert "64 mel bins" in capsys.readouterr().err


def test_image_to_audio_decoder_choice(tiny, tmp_path, monkeypatch, capsys) -> None:
    import numpy as np

    from riffgen.audio import audio_to_image, image_to_audio
    from riffgen.errors import RiffgenError

    _, path = tiny
    t = np.arange(8820) / 44100
    image = audio_to_image((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 44100)
    monkeypatch.setenv("RIFFGEN_VOCODER", str(path))
    audio, sr = image_to_audio(image, decoder="vocoder")
    assert sr == 44100 and audio.shape == (1, (image.width - 1) * 441)
    assert np.array_equal(audio, image_to_audio(image, decoder="vocoder", seed=5)[0])
    with pytest.raises(RiffgenError, match="unknown decoder"):
        image_to_audio(image, decoder="wavenet")
    monkeypatch.setenv("RIFFGEN_VOCODER", str(tmp_path / "gone.safetensors"))
    fallback, _ = image_to_audio(image, decoder="vocoder", seed=1)
    assert np.array_equal(fallback, image_to_audio(image, decoder="griffin-lim", seed=1)[0])
    assert "using Griffin-Lim instead" in capsys.readouterr().err
