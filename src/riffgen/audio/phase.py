"""Fast phase recovery: mel spectrogram -> waveform (riffgen's default decoder).

Why it is faster and better than the original (least-squares magnitude + 32 fast Griffin-Lim
iterations on a full 8821-bin complex STFT):

* Band-limited STFT. The mel filters end at ``max_frequency``, so every bin above it has zero
  magnitude in any reconstruction. We keep only the bins below it (4001 of 8821 by default) and
  let ``irfft(n=n_fft)`` zero-fill the rest, which halves all element-wise work.
* Own framing. Frames are the window's support (4410 samples), not the zero-padded FFT length;
  the window-power envelope for overlap-add is computed once, and frames are laid out
  ``(batch, frames, bins)`` so FFTs run along contiguous memory.
* Coarse-to-fine. Most iterations run on an STFT without zero padding (n_fft = window length,
  a quarter of the bins, four times cheaper FFTs); its phase seeds the full-resolution solve.
  (Zero padding only interpolates the spectrum, so the coarse STFT is the same signal's
  spectrum sampled at every 4th bin.)
* Mel constraint inside the loop. Instead of a fixed least-squares linear magnitude (which is
  smooth and not the magnitude of any signal), each iteration takes the magnitude of the current
  consistent STFT and rescales it so its mel spectrogram matches the target
  (``|X| * fb @ (target / (fb.T @ |X|))``), keeping the fine structure the signal really has.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import torch

from riffgen.audio.limits import check_iterations, check_work
from riffgen.audio.mel import mel_filterbank
from riffgen.audio.params import SpectrogramParams
from riffgen.errors import RiffgenError

EPS = 1e-8


@dataclass(frozen=True)
class PhaseConfig:
    """Knobs of :func:`reconstruct` (defaults are the benchmarked ones)."""

    # 64 + 4 measured on the five reference seed images (1 thread, CPU time): SC 0.147 / 0.071 /
    # 0.058 / 0.063 / 0.064 against the original's 0.155 / 0.073 / 0.076 / 0.077 / 0.082, in
    # about a third of its time less than 96 + 4 (which is only ~2.6x faster on 2 threads).
    coarse_iters: int = 64
    fine_iters: int = 4
    momentum: float = 0.99
    # Iterations on every other column (hop x2, redundancy 5) before the coarse ones: half the
    # cost of a coarse iteration, and the phase they find carries over (see ``reconstruct``).
    half_rate_iters: int = 0
    # Initial phase: "random" (uniform, from the seed) or "pghi" (phase-gradient integration
    # along time from the least-squares magnitude, with a random phase per bin at the start).
    init: str = "random"


# A candidate decoder setting (issue #13, not the default yet): phase-gradient start, 128
# iterations at half the frame rate, 32 at the full one, 1 at full resolution. On 4 held-out
# clips (bench_decoder) it cut the multi-resolution STFT distance to 0.95x the default's
# (3.64 vs 3.83 dB) for about 1.2x its iteration cost.
PGHI_MULTIRATE = PhaseConfig(coarse_iters=32, fine_iters=1, half_rate_iters=128, init="pghi")


@dataclass(frozen=True)
class _Geometry:
    """STFT layout: FFT size, window support and kept bins, all in samples/bins."""

    n_fft: int
    win: int
    hop: int
    bins: int

    @property
    def offset(self) -> int:
        """Where the window's support starts inside a centred n_fft frame."""
        return (self.n_fft - self.win) // 2


def _geometry(params: SpectrogramParams, *, n_fft: int) -> _Geometry:
    # Highest bin any mel filter touches, +1; the rest are always zero.
    fb = _filterbank(params, n_fft)
    rows = torch.nonzero(fb.sum(dim=1) > 0)
    bins = int(rows.max()) + 2 if rows.numel() else 1
    return _Geometry(
        n_fft=n_fft, win=params.win_length, hop=params.hop_length, bins=min(bins, n_fft // 2 + 1)
    )


@lru_cache(maxsize=16)
def _filterbank(params: SpectrogramParams, n_fft: int) -> torch.Tensor:
    """Mel filterbank ``(n_fft//2+1, n_mels)`` for an STFT of size ``n_fft``.

    For a coarser STFT than the image's (fewer bins), the fine filters are pulled back through
    linear interpolation of the coarse magnitudes: ``fb_c = interp.T @ fb``. Every mel band,
    even one narrower than a coarse bin, then keeps its weight, and mel values stay comparable
    with the full-resolution ones.
    """
    fine = mel_filterbank(
        n_freqs=params.n_fft // 2 + 1,
        f_min=params.min_frequency,
        f_max=params.max_frequency,
        n_mels=params.num_frequencies,
        sample_rate=params.sample_rate,
    )
    if n_fft == params.n_fft:
        return fine
    n_fine, n_coarse = params.n_fft // 2 + 1, n_fft // 2 + 1
    pos = torch.arange(n_fine, dtype=torch.float64) * (n_fft / params.n_fft)
    lo = pos.floor().long().clamp(max=n_coarse - 1)
    hi = (lo + 1).clamp(max=n_coarse - 1)
    frac = (pos - lo).clamp(0, 1)
    # ``interp.T @ fine`` with two non-zeros per row of ``interp``, without the dense matrix.
    fine = fine.double()
    coarse = torch.zeros(n_coarse, fine.shape[1], dtype=torch.float64)
    coarse.index_add_(0, lo, fine * (1 - frac)[:, None])
    coarse.index_add_(0, hi, fine * frac[:, None])
    return coarse.float()


class _Stft:
    """Band-limited STFT/ISTFT pair with cached window, envelope and sparse filterbank."""

    def __init__(self, params: SpectrogramParams, *, n_fft: int, frames: int, device: torch.device):
        self.g = _geometry(params, n_fft=n_fft)
        self.frames = frames
        self.length = params.num_samples(frames)
        self.window = torch.hann_window(self.g.win, device=device)
        fb = _filterbank(params, n_fft)[: self.g.bins].to(device)
        self.fb = fb  # (bins, mels)
        self.fb_t = fb.T.contiguous()  # (mels, bins)
        # Dense products beat sparse CSR ones (~2 non-zeros per bin) up to ~2000 bins on a CPU:
        # the coarse STFT's 1001; the fine STFT's 4001 keep the sparse adjoint.
        self.dense = self.g.bins <= 2048
        with warnings.catch_warnings():  # "sparse CSR support is in beta": fine for mm
            warnings.simplefilter("ignore", UserWarning)
            self.fb_sparse = fb.contiguous().to_sparse_csr()  # (bins, mels)
        env = self._overlap_add(self.window.square().expand(1, frames, self.g.win))
        self.inv_env = 1.0 / env.clamp_min(1e-11)

    @functools.cached_property
    def pinv(self) -> torch.Tensor:
        """Pseudo-inverse ``(mels, bins)`` of the filterbank (minimum-norm least squares)."""
        return torch.linalg.pinv(self.fb.double().cpu()).float().to(self.fb.device)

    # -- framing -------------------------------------------------------------------------
    def _pad(self) -> int:
        return self.g.n_fft // 2

    def stft(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, samples)`` -> complex ``(B, frames, bins)``."""
        pad = self._pad()
        if x.shape[-1] <= pad:
            x = torch.nn.functional.pad(x, (0, pad + 1 - x.shape[-1]))
        xp = torch.nn.functional.pad(x[:, None], (pad, pad), mode="reflect")[:, 0]
        g = self.g
        start = g.offset
        end = start + (self.frames - 1) * g.hop + g.win
        if xp.shape[-1] < end:  # odd window lengths (e.g. 2205 at 22.05 kHz) need one more
            xp = torch.nn.functional.pad(xp, (0, end - xp.shape[-1]))
        frames = xp[:, start:end].unfold(-1, g.win, g.hop)
        spec = torch.fft.rfft(frames * self.window, n=g.n_fft, dim=-1)
        return spec[..., : g.bins]

    def _overlap_add(self, frames: torch.Tensor) -> torch.Tensor:
        """``(B, T, win)`` -> ``(B, (T-1)*hop + win)``, summing overlapping frames."""
        b, t, w = frames.shape
        # ``fold`` is col2im: one C++ pass, about 4x faster than adding hop-wide slices.
        out = torch.nn.functional.fold(
            frames.transpose(1, 2),
            output_size=(1, (t - 1) * self.g.hop + w),
            kernel_size=(1, w),
            stride=(1, self.g.hop),
        )
        return out.reshape(b, -1)

    def istft(self, spec: torch.Tensor) -> torch.Tensor:
        """complex ``(B, frames, bins)`` -> ``(B, length)`` (least-squares inverse)."""
        g = self.g
        frames = torch.fft.irfft(spec, n=g.n_fft, dim=-1)[..., : g.win] * self.window
        out = self._overlap_add(frames) * self.inv_env
        lead = self._pad() - g.offset
        return out[:, lead : lead + self.length]

    # -- mel -----------------------------------------------------------------------------
    def mel(self, mag: torch.Tensor) -> torch.Tensor:
        """``(B, T, bins)`` -> ``(B, T, mels)``."""
        b, t, k = mag.shape
        return (mag.reshape(b * t, k) @ self.fb).reshape(b, t, -1)  # dense: faster at any size

    def mel_adjoint(self, ratio: torch.Tensor) -> torch.Tensor:
        """``(B, T, mels)`` -> ``(B, T, bins)`` (multiplication by the filterbank)."""
        b, t, m = ratio.shape
        if self.dense:
            return (ratio.reshape(b * t, m) @ self.fb_t).reshape(b, t, -1)
        out = torch.sparse.mm(self.fb_sparse, ratio.reshape(b * t, m).T)  # (bins, B*T)
        return out.T.reshape(b, t, -1)


def _ls_magnitude(target: torch.Tensor, stft: _Stft) -> torch.Tensor:
    """Least-squares non-negative linear magnitude ``(B, T, bins)`` for mel ``(B, T, mels)``."""
    return torch.relu(target @ stft.pinv)


def _mel_rescale(stft: _Stft, mag: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """One multiplicative update: ``mag * fb @ (target / (fb.T @ mag))``.

    Bins keep their relative fine structure; each mel band is scaled to its target.
    """
    mel = stft.mel(mag)
    ratio = target / (mel + EPS * target.amax().clamp_min(1e-30))
    return mag * stft.mel_adjoint(ratio)


def _unit_phase(z: torch.Tensor, channels: int) -> torch.Tensor:
    """``z / |z|``; with ``channels`` > 1 the phase of each group of ``channels`` consecutive
    batch rows (one recording's channels) is shared: that of their sum.

    One phase for all channels keeps their correlation: phase rebuilt per channel from a
    random start comes out unrelated, and a real stereo clip's channels would cancel in the
    mono mix. The sum weights each channel by its magnitude, so the louder one leads.
    """
    if channels > 1:
        b, t, k = z.shape
        z = z.reshape(b // channels, channels, t, k).sum(dim=1, keepdim=True)
        z = z.expand(-1, channels, -1, -1).reshape(b, t, k)
    return z / (z.abs() + EPS)


def _iterate(
    stft: _Stft,
    target: torch.Tensor,
    phase: torch.Tensor,
    mag: torch.Tensor,
    *,
    n_iter: int,
    momentum: float,
    on_step: Callable[[], None],
    channels: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fast Griffin-Lim with the mel constraint applied every iteration.

    Returns the last unit phase and magnitude, both ``(B, T, bins)``; ``channels`` > 1
    shares the phase within each group of that many rows (see :func:`_unit_phase`).
    """
    prev = None
    alpha = momentum / (1 + momentum)
    for _ in range(n_iter):
        rebuilt = stft.stft(stft.istft(mag * phase))
        mag = _mel_rescale(stft, rebuilt.abs(), target)
        nxt = rebuilt if prev is None else rebuilt - alpha * prev
        phase = _unit_phase(nxt, channels)
        prev = rebuilt
        on_step()
    return phase, mag


def iteration_split(
    params: SpectrogramParams, n_iter: int | None = None, config: PhaseConfig | None = None
) -> tuple[int, int]:
    """``(coarse, fine)`` iteration counts for an iteration budget (default from ``params``).

    The budget is in units of the original's iterations: 32 gives the benchmarked default;
    other values scale both stages proportionally.
    """
    budget = check_iterations(params.num_griffin_lim_iters if n_iter is None else n_iter)
    config = config or PhaseConfig()
    coarse = round(config.coarse_iters * budget / 32)
    fine = round(config.fine_iters * budget / 32)
    if budget and not fine:
        fine = 1  # at least one full-resolution pass so the finest mel bands are met
    return coarse, fine


def _half_rate_iterations(
    params: SpectrogramParams, n_iter: int | None, config: PhaseConfig
) -> int:
    """Half-frame-rate iterations for an iteration budget (scaled like :func:`iteration_split`)."""
    budget = check_iterations(params.num_griffin_lim_iters if n_iter is None else n_iter)
    return round(config.half_rate_iters * budget / 32)


# Equivalent Gaussian time-frequency spread of a Hann window of L samples: lambda = GAMMA L^2
# (Prusa, Balazs & Sondergaard 2017, "A noniterative method for reconstruction of phase from
# STFT magnitude").
_HANN_GAMMA = 0.25645


def _initial_phase(
    stft: _Stft,
    target: torch.Tensor,
    config: PhaseConfig,
    generator: torch.Generator | None,
    channels: int,
) -> torch.Tensor:
    """Unit phase ``(B, T, bins)`` to start iterating from (see :attr:`PhaseConfig.init`).

    Random numbers are drawn on the CPU so a seed gives the same audio on every device; the
    channels of one recording share them.
    """
    b, frames, _ = target.shape
    device = target.device
    ang = torch.rand(
        (b // channels, 1, frames if config.init == "random" else 1, stft.g.bins),
        generator=generator,
    )
    ang = (ang * (2 * math.pi)).expand(-1, channels, -1, -1).reshape(b, ang.shape[2], -1)
    ang = ang.to(device)
    if config.init == "random":
        return torch.polar(torch.ones_like(ang), ang)
    if config.init != "pghi":
        raise ValueError(f"unknown initial phase {config.init!r}")
    # Phase-gradient integration along time: a partial at a bin's centre advances
    # 2 pi k hop / n_fft per frame; one off-centre tilts the log magnitude across bins, and
    # for a Gaussian-like window the tilt gives the offset: d(phase)/dt = hop n_fft / lambda
    # * d(log |X|)/dk. Integrating it keeps each partial coherent from frame to frame, which
    # a random start lacks; a random phase per bin at the first frame keeps the seed's say.
    g = stft.g
    mag = _ls_magnitude(target, stft)
    if channels > 1:  # one phase for the recording: from the channels' summed magnitude
        mag = mag.reshape(b // channels, channels, frames, -1).sum(dim=1, keepdim=True)
        mag = mag.expand(-1, channels, -1, -1).reshape(b, frames, -1)
    log_mag = torch.log(mag + 1e-5 * mag.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-30))
    slope = torch.zeros_like(log_mag)
    slope[..., 1:-1] = (log_mag[..., 2:] - log_mag[..., :-2]) / 2
    k = torch.arange(g.bins, device=device, dtype=mag.dtype)
    advance = 2 * math.pi * g.hop * k / g.n_fft + g.hop * g.n_fft / (_HANN_GAMMA * g.win**2) * slope
    steps = (advance[:, 1:] + advance[:, :-1]) / 2
    phase = torch.cat([ang, ang + torch.cumsum(steps, dim=1)], dim=1)
    return torch.polar(torch.ones_like(phase), phase)


def reconstruct(
    mel: torch.Tensor,
    params: SpectrogramParams,
    *,
    n_iter: int | None = None,
    generator: torch.Generator | None = None,
    progress: Callable[[int, int], None] | None = None,
    config: PhaseConfig | None = None,
    linked_channels: bool = False,
    init: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mel magnitudes ``(..., n_mels, frames)`` -> waveform ``(..., samples)``.

    ``n_iter`` (default ``params.num_griffin_lim_iters``) is the iteration budget, see
    :func:`iteration_split`; 0 returns the least-squares magnitude with the initial random
    phase. ``generator`` (a CPU generator) makes the result reproducible on any device.
    ``progress(done, total)`` is called after each iteration. ``linked_channels``: the
    dimension before the mels holds the channels of one recording (``(..., 2, n_mels,
    frames)`` for stereo); they are solved jointly with one shared phase, which keeps their
    correlation (each channel keeps its own magnitudes).
    """
    shape = mel.shape
    target = mel.reshape(-1, *shape[-2:]).transpose(-1, -2).float().contiguous()  # (B, T, M)
    b, frames, _ = target.shape
    channels = int(shape[-3]) if linked_channels and mel.dim() >= 3 else 1
    if frames < 2:
        raise RiffgenError("a spectrogram needs at least 2 frames to hold any audio")
    check_work(params, columns=frames)
    device = target.device
    config = config or PhaseConfig()
    coarse_n, fine_n = iteration_split(params, n_iter, config)
    total, done = coarse_n + fine_n, 0

    def on_step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    momentum = config.momentum
    coarse = _stft_for(params, n_fft=params.win_length, frames=frames, device=device)
    half_n = _half_rate_iterations(params, n_iter, config)
    total += half_n
    wav = None
    if half_n and frames >= 4:
        # Every other column at twice the hop: a consistent STFT still (redundancy 5), so the
        # phase of its solution is a good start at the full frame rate, at half the cost.
        half_params = params.replace(step_size_ms=params.step_size_ms * 2)
        half_target = target[:, ::2].contiguous()
        half = _stft_for(
            half_params, n_fft=params.win_length, frames=half_target.shape[1], device=device
        )
        phase = _initial_phase(half, half_target, config, generator, channels)
        mag = _ls_magnitude(half_target, half)
        phase, mag = _iterate(
            half,
            half_target,
            phase,
            mag,
            n_iter=half_n,
            momentum=momentum,
            on_step=on_step,
            channels=channels,
        )
        wav = half.istft(mag * phase)
        wav = torch.nn.functional.pad(wav, (0, max(coarse.length - wav.shape[-1], 0)))
    else:
        total -= half_n  # too short for a half-rate grid: those iterations are skipped
    if init is not None:
        wav = init.reshape(b, -1).float().to(device)
    if wav is not None:
        rebuilt = coarse.stft(wav[:, : coarse.length])
        phase = _unit_phase(rebuilt, channels)
        mag = _mel_rescale(coarse, rebuilt.abs(), target)
    else:
        phase = _initial_phase(coarse, target, config, generator, channels)
        mag = _ls_magnitude(target, coarse)
    phase, mag = _iterate(
        coarse,
        target,
        phase,
        mag,
        n_iter=coarse_n,
        momentum=momentum,
        on_step=on_step,
        channels=channels,
    )
    wav = coarse.istft(mag * phase)
    if fine_n:
        fine = _stft_for(params, n_fft=params.n_fft, frames=frames, device=device)
        rebuilt = fine.stft(wav)
        mag = _mel_rescale(fine, rebuilt.abs(), target)
        phase = _unit_phase(rebuilt, channels)
        phase, mag = _iterate(
            fine,
            target,
            phase,
            mag,
            n_iter=fine_n,
            momentum=momentum,
            on_step=on_step,
            channels=channels,
        )
        wav = fine.istft(mag * phase)
    return wav.reshape(*shape[:-2], wav.shape[-1])


@lru_cache(maxsize=8)
def _stft_for(params: SpectrogramParams, *, n_fft: int, frames: int, device: torch.device) -> _Stft:
    # Windows, envelopes and filterbanks depend only on these; image widths repeat a lot.
    return _Stft(params, n_fft=n_fft, frames=frames, device=device)
