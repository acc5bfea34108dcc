"""Whole-song transform and seamless loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from riffgen.audio.params import SpectrogramParams
from riffgen.diffusion.fake import FakePipeline
from riffgen.diffusion.types import PromptInput
from riffgen.endless.loop import (
    circular_griffin_lim,
    circular_istft,
    circular_stft,
    circular_width,
    loop_audio,
)
from riffgen.endless.metrics import seam_report
from riffgen.endless.transform import prompt_at, transform_long, window_starts
from riffgen.errors import RiffgenError


def test_window_starts_cover_and_end_at_the_end():
    assert window_starts(100, window=200, overlap=20) == [0]
    starts = window_starts(1000, window=200, overlap=20)
    assert starts[0] == 0 and starts[-1] == 800
    assert all(b - a <= 180 for a, b in zip(starts, starts[1:], strict=False))
    assert starts == sorted(set(starts))


def test_prompt_at_moves_through_prompts():
    ps = [PromptInput("a"), PromptInput("b"), PromptInput("c")]
    assert prompt_at(ps, 0.0) == (ps[0], ps[1], 0.0)
    assert prompt_at(ps, 0.25) == (ps[0], ps[1], 0.5)
    assert prompt_at(ps, 1.0) == (ps[1], ps[2], 1.0)
    assert prompt_at(ps[:1], 0.7) == (ps[0], ps[0], 0.0)


@pytest.mark.parametrize(
    ("seconds", "rate", "channels"), [(2.0, 44100, 1), (13.7, 22050, 2), (31.0, 48000, 1)]
)
def test_transform_long_keeps_length_and_rate(seconds, rate, channels):
    rng = np.random.default_rng(0)
    n = int(seconds * rate)
    song = (0.3 * rng.standard_normal((channels, n))).astype(np.float32)
    pipe = FakePipeline()
    out, sr = transform_long(pipe, song, rate, ["a", "b"], denoising=0.6, num_inference_steps=2)
    assert sr == rate and out.shape == (1, n) and np.isfinite(out).all()
    assert np.abs(out).max() <= 1.0
    assert all(c[0].denoising == 0.6 for c in pipe.calls)
    alphas = [c[2] for c in pipe.calls]
    assert alphas == sorted(alphas)  # the song moves from a towards b


def test_transform_long_keeps_dynamics_and_smooth_joins():
    sr = 44100
    t = np.arange(20 * sr) / sr
    song = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    song[10 * sr : 14 * sr] = 0.0  # a silent bar in the middle
    pipe = FakePipeline()
    done = []
    out, _ = transform_long(pipe, song, sr, "x", progress=lambda k, n: done.append((k, n)))
    assert done[-1][0] == done[-1][1] == len(pipe.calls) >= 4
    quiet = np.sqrt(np.mean(out[0, int(11 * sr) : int(13 * sr)] ** 2))
    loud = np.sqrt(np.mean(out[0, int(2 * sr) : int(8 * sr)] ** 2))
    assert quiet < 0.05 * loud
    starts = window_starts(20 * sr, window=511 * 441, overlap=sr // 2)
    rep = seam_report(out, starts[1:])
    assert rep.jump_ratio <= 1.0, rep


def test_transform_long_rejects_bad_input():
    with pytest.raises(RiffgenError):
        transform_long(FakePipeline(), np.zeros((1, 0)), 44100, "x")
    with pytest.raises(RiffgenError):
        transform_long(FakePipeline(), np.full(1000, np.nan), 44100, "x")
    with pytest.raises(RiffgenError):
        transform_long(FakePipeline(), np.zeros(1000), 44100, [])


def test_circular_stft_is_exactly_invertible():
    p = SpectrogramParams()
    x = torch.randn(64 * p.hop_length)
    assert torch.allclose(circular_istft(circular_stft(x, p), p), x, atol=1e-5)
    p7 = SpectrogramParams(step_size_ms=7)  # n_fft not a multiple of hop: the fold path
    x = torch.randn(80 * p7.hop_length)
    assert torch.allclose(circular_istft(circular_stft(x, p7), p7), x, atol=1e-5)


def test_circular_stft_is_shift_equivariant():
    p = SpectrogramParams()
    x = torch.randn(40 * p.hop_length)
    a = circular_stft(x, p).abs()
    b = circular_stft(torch.roll(x, 3 * p.hop_length), p).abs()
    assert torch.allclose(torch.roll(a, 3, dims=-1), b, atol=1e-3)


def test_circular_width_conv_wraps_width_only():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    x = torch.randn(1, 3, 8, 16)
    plain = conv(x)
    with torch.no_grad(), circular_width(conv, None) as n:
        assert n == 1
        wrapped = conv(x)
        rolled = conv(torch.roll(x, 5, dims=-1))
        flipped_h = conv(torch.roll(x, 2, dims=-2))
    assert torch.allclose(torch.roll(wrapped, 5, dims=-1), rolled, atol=1e-6)  # circular in width
    assert not torch.allclose(torch.roll(wrapped, 2, dims=-2), flipped_h, atol=1e-3)  # not height
    assert torch.allclose(wrapped[..., 1:-1, 1:-1], plain[..., 1:-1, 1:-1], atol=1e-6)
    assert torch.allclose(conv(x), plain)  # restored
    assert not hasattr(conv, "_riffgen_padding")


def test_circular_width_restores_on_error():
    conv = torch.nn.Conv2d(1, 1, 3, padding=1)
    with pytest.raises(ValueError), circular_width(conv):
        raise ValueError
    assert "_conv_forward" not in conv.__dict__


def test_loop_audio_seam_no_worse_than_inside():
    """A periodic spectrogram decoded circularly repeats without a seam."""
    p = SpectrogramParams(num_griffin_lim_iters=8)
    frames = 128
    n = frames * p.hop_length
    t = np.arange(n) / p.sample_rate
    beat = np.exp(-(t % (n / p.sample_rate / 4)) / 0.08) * np.sin(2 * np.pi * 110 * t)
    target = torch.from_numpy((beat + 0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    magnitude = circular_stft(target, p).abs()
    g = torch.Generator().manual_seed(0)
    wav = circular_griffin_lim(magnitude, p, n_iter=8, generator=g).numpy()
    two = np.concatenate([wav, wav])
    rep = seam_report(two, [n])
    assert rep.jump_ratio <= 1.0 and rep.flux_ratio <= 1.0, rep


def test_circular_width_uses_public_hooks_and_nests():
    conv = torch.nn.Conv2d(2, 2, (3, 5), padding=(1, 2))
    x = torch.randn(1, 2, 6, 10)
    with torch.no_grad(), circular_width(conv) as n, circular_width(conv) as inner:
        assert (n, inner) == (1, 0)  # the inner block leaves the already wrapped conv alone
        assert conv.padding == (0, 0) and len(conv._forward_pre_hooks) == 1
        assert conv(x).shape == (1, 2, 6, 10)
    assert conv.padding == (1, 2) and not conv._forward_pre_hooks


def test_loop_decode_is_bounded():
    image = Image.new("L", (64, 512), 128)
    with pytest.raises(RiffgenError, match="0 to 1000"):
        loop_audio(image, n_iter=10**9)
    with pytest.raises(RiffgenError, match="px wide"):
        loop_audio(Image.new("L", (100_000, 16), 255))
