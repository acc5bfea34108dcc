"""Training the spectrogram-image vocoder (``riffgen train-decoder``).

Data: any folder of audio. Each step draws random crops, makes them harder and more varied
on the fly (a second crop mixed in at a random level, coloured noise, silent gaps, fades),
and turns each crop into exactly what a spectrogram image holds: the mel spectrogram,
normalised to its maximum, raised to the image power and quantised to 8 bits. The vocoder
learns to map that back to the crop's waveform.

Loss: multi-resolution STFT (log-magnitude L1 + spectral convergence, windows 256-4096,
bins below the image's top frequency) plus a log-mel L1 in the image's own mel format, so
the output both sounds like the audio and re-encodes to the picture. On the vocoder's own
STFT (:func:`phase_loss`): a log-magnitude L1, and the phase supervised directly through
its instantaneous frequency and group delay (anti-wrapped errors, as in APNet, Ai & Ling
2023). The waveform losses then train the magnitude only (see :func:`training_loss`).

Speed: the backbone runs under bf16 autocast (AMX), two threads by default; one step of 8
crops of 0.64 s takes ~0.47 s on this 2-core machine.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from riffgen.audio import load_audio
from riffgen.audio.mel import filterbank_for
from riffgen.audio.params import SpectrogramParams
from riffgen.audio.spectrogram import stft
from riffgen.audio.vocoder import Vocoder, VocoderConfig, load_vocoder, save_vocoder
from riffgen.audio.vocoder.model import HeadSpectrum
from riffgen.errors import RiffgenError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
# Target waveforms are scaled by this over the crop's mel maximum: a full-scale sine has a
# mel peak of ~1100 (Hann window sum / 2), so waveforms land near unit amplitude.
WAVE_SCALE = 1000.0
STFT_WINDOWS = (256, 512, 1024, 2048, 4096)
# Log-magnitude floor, relative to each target's loudest bin: 80 dB of range counts.
FLOOR_DB = 80.0


@dataclass(frozen=True)
class DecoderTrainConfig:
    """One ``train-decoder`` run. Times in seconds; ``crop_frames`` in image columns."""

    steps: int = 3000
    batch: int = 8
    crop_frames: int = 64
    lr: float = 8e-4
    warmup_steps: int = 100
    weight_decay: float = 0.01
    seed: int = 0
    time_limit_s: float | None = None  # the schedule then ends at whichever comes first
    # Vocoder weights to start from (fine-tuning; their own config replaces ``model``).
    init_from: str | None = None
    threads: int = 2
    # Fraction of batches in the 128-mel mini format (the rest use the first entry of mels).
    mini_fraction: float = 0.25
    mix_probability: float = 0.4
    noise_probability: float = 0.2
    gap_probability: float = 0.15
    silence_probability: float = 0.02
    # Weight of the direct phase losses (instantaneous frequency + group delay, radians) and
    # the head-STFT log-magnitude loss that comes with them; 0 trains on waveform losses only.
    phase_weight: float = 1.0
    # bf16 autocast for the backbone: ~2x faster steps on CPUs with AMX (loss stays fp32).
    bf16: bool = True
    log_every: int = 25
    checkpoint_every: int = 250
    model: VocoderConfig = field(default_factory=VocoderConfig)


@dataclass
class DecoderTrainResult:
    out_dir: Path
    weights: Path
    steps: int
    seconds: float
    final_loss: float
    first_loss: float


# --------------------------------------------------------------------------------- data


def band_mel(wave: torch.Tensor, params: SpectrogramParams) -> torch.Tensor:
    """The image's mel spectrogram ``(batch, n_mels, frames)`` of ``(batch, samples)``.

    Same values as :func:`riffgen.audio.spectrogram.mel_spectrogram`, but the filterbank
    matrix product skips the bins above the top filter (all-zero rows): over half of the
    8821 bins at the default format, and this product dominates a training step's cost.
    """
    fb = filterbank_for(params, wave.device)
    used = int(torch.nonzero(fb.sum(1)).max()) + 1
    # stft() zero-pads input shorter than half an FFT; keep the frames the samples span.
    frames = 1 + wave.shape[-1] // params.hop_length
    spec = stft(wave, params)[..., :used, :frames].abs()
    return torch.matmul(fb[:used].T, spec)


def audio_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Audio files below ``folder`` (recursively), sorted so runs are reproducible."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RiffgenError(f"audio folder not found: {folder}")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)


def load_clips(
    folder: str | os.PathLike[str], *, sample_rate: int, min_samples: int, log: Callable = print
) -> tuple[list[np.ndarray], list[str]]:
    """Every readable file below ``folder`` as mono float16 at ``sample_rate`` Hz.

    Files shorter than ``min_samples`` or unreadable are skipped (and counted in the log).
    float16 halves the memory; its relative precision (~1e-3) is far below the 8-bit image's.
    """
    clips, names, skipped = [], [], 0
    for path in audio_files(folder):
        try:
            samples, _ = load_audio(path, sample_rate=sample_rate, mono=True)
        except RiffgenError:
            skipped += 1
            continue
        if samples.shape[1] < min_samples or not np.isfinite(samples).all():
            skipped += 1
            continue
        clips.append(samples[0].astype(np.float16))
        names.append(str(path.relative_to(folder)))
    if not clips:
        raise RiffgenError(
            f"no usable audio in {folder} (need files of at least "
            f"{min_samples / sample_rate:.2f} s)"
        )
    log(
        f"train-decoder: {len(clips)} files, {sum(c.size for c in clips) / sample_rate / 60:.1f} "
        f"min of audio ({skipped} skipped)"
    )
    return clips, names


class CropSampler:
    """Random training crops of ``n`` samples, varied on the fly (see the module doc)."""

    def __init__(self, clips: list[np.ndarray], config: DecoderTrainConfig, n: int) -> None:
        self.clips, self.config, self.n = clips, config, n
        self.rng = np.random.default_rng(config.seed)

    def _crop(self) -> np.ndarray:
        clip = self.clips[int(self.rng.integers(len(self.clips)))]
        start = int(self.rng.integers(0, clip.size - self.n + 1))
        return clip[start : start + self.n].astype(np.float32)

    def _noise(self) -> np.ndarray:
        # White noise tilted by f^-alpha (alpha 0 white, 1 pink, 2 brown) in the FFT domain.
        alpha = float(self.rng.uniform(0.0, 2.0))
        spec = np.fft.rfft(self.rng.standard_normal(self.n))
        f = np.maximum(np.arange(spec.size), 1.0)
        noise = np.fft.irfft(spec / f ** (alpha / 2), n=self.n)
        return (noise / (np.sqrt(np.mean(noise**2)) + 1e-12)).astype(np.float32)

    def sample(self) -> np.ndarray:
        c, rng, n = self.config, self.rng, self.n
        x = self._crop()
        rms = float(np.sqrt(np.mean(x**2))) + 1e-6
        if rng.random() < c.mix_probability:
            other = self._crop()
            gain = 10 ** (rng.uniform(-20, 0) / 20) * rms / (np.sqrt(np.mean(other**2)) + 1e-6)
            x = x + np.float32(gain) * other
        if rng.random() < c.noise_probability:
            x = x + np.float32(10 ** (rng.uniform(-50, 0) / 20) * rms) * self._noise()
        if rng.random() < c.gap_probability:  # a silent gap: sharp onsets out of silence
            a, b = sorted(rng.integers(0, n, size=2))
            x[a:b] = 0
        if rng.random() < 0.3:  # a fade in or out over the crop (dynamics within an image)
            ramp = np.linspace(0, 1, n, dtype=np.float32) ** rng.uniform(0.5, 3)
            x = x * (ramp if rng.random() < 0.5 else ramp[::-1])
        if rng.random() < c.silence_probability:
            x = x * np.float32(0)
        return x


def image_features(
    wave: torch.Tensor, params: SpectrogramParams, *, rng: np.random.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Crops ``(batch, samples)`` -> (features, scaled waveform, scaled target mel).

    Features are exactly what :func:`riffgen.audio.image_to_audio` hands the vocoder for the
    crop's image: ``(255 - pixel) / 255``. ``rng`` (training) sometimes normalises to up to
    10x the crop's maximum, as a crop of a louder image would be.
    """
    mel = band_mel(wave, params)
    peak = mel.flatten(1).amax(1).clamp_min(1e-12)
    if rng is not None:
        boost = np.where(rng.random(len(peak)) < 0.5, rng.uniform(1, 10, len(peak)), 1.0)
        peak = peak * torch.from_numpy(boost).float()
    silent = mel.flatten(1).amax(1) < 1e-9
    scale = torch.where(silent, torch.zeros_like(peak), WAVE_SCALE / peak)
    level = (mel / peak[:, None, None]).clamp(0, 1) ** params.power_for_image
    pixels = (255.0 - level * 255.0).to(torch.uint8)  # truncation, as image_from_mel does
    features = (255.0 - pixels.float()) / 255.0
    return features, wave * scale[:, None], mel * scale[:, None, None]


# --------------------------------------------------------------------------------- loss


def _log_floor(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """log of ``x`` floored FLOOR_DB below each item's ``ref`` maximum (and at 1e-5)."""
    floor = ref.flatten(1).amax(1).clamp_min(1e-1) * 10 ** (-FLOOR_DB / 20)
    return torch.log(torch.maximum(x, floor.view(-1, *([1] * (x.dim() - 1)))))


def stft_magnitude(wave: torch.Tensor, window: int, *, sample_rate: int, max_hz: float):
    """Hann STFT magnitudes ``(batch, bins, frames)`` of the bins below ``max_hz``."""
    spec = torch.stft(
        wave,
        n_fft=window,
        hop_length=window // 4,
        window=torch.hann_window(window, device=wave.device),
        center=True,
        return_complex=True,
    )
    bins = int(max_hz * window / sample_rate) + 1
    return spec[:, :bins].abs()


def vocoder_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    target_mel: torch.Tensor,
    params: SpectrogramParams,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Multi-resolution STFT + image-mel loss on waveforms ``(batch, samples)``."""
    log_l1 = pred.new_zeros(())
    conv = pred.new_zeros(())
    for window in STFT_WINDOWS:
        kw = {"sample_rate": params.sample_rate, "max_hz": params.max_frequency}
        p = stft_magnitude(pred, window, **kw)
        t = stft_magnitude(target, window, **kw)
        log_l1 = log_l1 + (_log_floor(p, t) - _log_floor(t, t)).abs().mean()
        conv = conv + torch.linalg.vector_norm(p - t) / torch.linalg.vector_norm(t).clamp_min(1)
    log_l1, conv = log_l1 / len(STFT_WINDOWS), conv / len(STFT_WINDOWS)
    pred_mel = band_mel(pred, params)
    mel_l1 = (_log_floor(pred_mel, target_mel) - _log_floor(target_mel, target_mel)).abs().mean()
    total = log_l1 + conv + mel_l1
    parts = {"stft_log": log_l1, "stft_sc": conv, "mel": mel_l1}
    return total, {k: float(v.detach()) for k, v in parts.items()}


def anti_wrap(x: torch.Tensor) -> torch.Tensor:
    """|x| after wrapping to [-pi, pi]: the distance between two angles (Ai & Ling, APNet)."""
    return torch.abs(x - 2 * math.pi * torch.round(x / (2 * math.pi)))


def phase_loss(
    head: HeadSpectrum, target: torch.Tensor, config: VocoderConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Head-STFT losses of a predicted spectrum against the target waveform's STFT at the
    same resolution: (log-magnitude L1, instantaneous-frequency error, group-delay error),
    the two phase errors in radians.

    Why: a waveform loss reaches the phase only through the STFT magnitudes of the result, a
    weak and slow signal (the partials of an early vocoder came out as noise). The absolute
    phase of a steady partial is arbitrary, but its advance per frame (its frequency) and
    its slope across bins (where in the frame an onset sits) follow from the image, so those
    two are supervised directly. Each is weighted by the target's magnitude (square root of
    the level relative to the loudest bin), because the phase of a silent bin means nothing.

    The frequency error is taken on the output phase; the group delay on the frame-local
    phase the gate pulls towards. Taken on the output phase, its gradient would flow back
    through the accumulated advances of every earlier frame and fight the frequency term
    (measured: on a fixed batch the sum then does not decrease at all).
    """
    c = config
    spec = torch.stft(
        target,
        n_fft=c.n_fft,
        hop_length=c.hop,
        window=torch.hann_window(c.n_fft, device=target.device),
        center=True,
        return_complex=True,
    )[:, : c.bins, : head.phase.shape[-1]]
    true_mag, true_phase = spec.abs(), spec.angle()
    mag_l1 = (_log_floor(head.magnitude, true_mag) - _log_floor(true_mag, true_mag)).abs().mean()
    weight = (true_mag / true_mag.flatten(1).amax(1).clamp_min(1e-9)[:, None, None]).sqrt()

    def weighted(err: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return (err * w).sum() / w.sum().clamp_min(1e-6)

    w_time = torch.minimum(weight[..., 1:], weight[..., :-1])
    step_pred = head.phase[..., 1:] - head.phase[..., :-1]
    step_true = true_phase[..., 1:] - true_phase[..., :-1]
    frequency = weighted(anti_wrap(step_pred - step_true), w_time)
    w_bins = torch.minimum(weight[:, 1:], weight[:, :-1])
    slope_pred = head.local[:, 1:] - head.local[:, :-1]
    slope_true = true_phase[:, 1:] - true_phase[:, :-1]
    delay = weighted(anti_wrap(slope_pred - slope_true), w_bins)
    return mag_l1, frequency, delay


def training_loss(
    model: Vocoder,
    features: torch.Tensor,
    target: torch.Tensor,
    target_mel: torch.Tensor,
    params: SpectrogramParams,
    config: DecoderTrainConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """One step's loss: the waveform losses (:func:`vocoder_loss`, in the ``params`` mel
    format) plus, with ``config.phase_weight``, the head-STFT losses (:func:`phase_loss`)."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
        head = model.frames(features)
    spectrum = model.magnitude_phase(head.float())
    # With the phase losses on, the waveform losses train the magnitude only: their gradient
    # through the phase is large and noisy, and stops the frequency error from falling at all
    # (measured on a fixed batch: 1.40 -> 1.38 rad in 40 steps with it, -> 0.55 without).
    phase = spectrum.phase.detach() if config.phase_weight > 0 else spectrum.phase
    pred = model.waveform(torch.polar(spectrum.magnitude, phase))
    loss, parts = vocoder_loss(pred, target, target_mel, params)
    if config.phase_weight > 0:
        head_mag, frequency, delay = phase_loss(spectrum, target, model.config)
        loss = loss + head_mag + config.phase_weight * (frequency + delay)
        extra = {"head_mag": head_mag, "if": frequency, "gd": delay}
        parts |= {k: float(v.detach()) for k, v in extra.items()}
    return loss, parts


# --------------------------------------------------------------------------------- training


def _learning_rate(config: DecoderTrainConfig, progress: float, step: int) -> float:
    warm = min(1.0, (step + 1) / max(config.warmup_steps, 1))
    return config.lr * warm * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train_decoder(
    audio_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    config: DecoderTrainConfig | None = None,
    *,
    log: Callable[[str], None] | None = None,
) -> DecoderTrainResult:
    """Train a vocoder on the audio below ``audio_dir``; write ``out_dir/vocoder.safetensors``
    (fp16), ``vocoder.json`` (what it was trained on, with the loss curve) and
    ``checkpoint.pt`` (fp32 model + optimiser, every ``checkpoint_every`` steps).

    The cosine schedule runs over ``steps`` or ``time_limit_s``, whichever ends first, so a
    time-limited run still finishes with a decayed learning rate.
    """
    config = config or DecoderTrainConfig()
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    if config.steps < 1 or config.batch < 1 or config.crop_frames < 8:
        raise RiffgenError("steps and batch must be >= 1 and crop_frames >= 8")
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = load_vocoder(config.init_from) if config.init_from else None
    mc = base.config if base is not None else config.model
    main_params = mc.params(mc.mels[0])
    mini_mels = [m for m in mc.mels if m != mc.mels[0]]
    n = (config.crop_frames - 1) * mc.hop
    clips, names = load_clips(audio_dir, sample_rate=mc.sample_rate, min_samples=n, log=log)
    sampler = CropSampler(clips, config, n)
    model = Vocoder(mc)
    if base is not None:
        model.load_state_dict(base.state_dict())
        log(f"train-decoder: starting from {config.init_from}")
    count = sum(p.numel() for p in model.parameters())
    log(f"train-decoder: {count / 1e6:.2f} M parameters, {mc.layers} blocks of {mc.dim}")
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    feature_rng = np.random.default_rng(config.seed + 1)
    history: list[dict[str, float]] = []
    started = time.monotonic()
    step, first_loss, running = 0, float("nan"), None
    while True:
        elapsed = time.monotonic() - started
        progress = step / config.steps
        if config.time_limit_s:
            progress = max(progress, elapsed / config.time_limit_s)
        if progress >= 1.0:
            break
        for group in opt.param_groups:
            group["lr"] = _learning_rate(config, progress, step)
        use_mini = bool(mini_mels) and feature_rng.random() < config.mini_fraction
        params = mc.params(mini_mels[0]) if use_mini else main_params
        wave = torch.from_numpy(np.stack([sampler.sample() for _ in range(config.batch)]))
        with torch.no_grad():
            features, target, target_mel = image_features(wave, params, rng=feature_rng)
            if use_mini:  # the mel loss always uses the main (finest) format: it says most
                target_mel = band_mel(target, main_params)
        loss, parts = training_loss(model, features, target, target_mel, main_params, config)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        value = float(loss.detach())
        first_loss = value if step == 1 else first_loss
        running = value if running is None else 0.95 * running + 0.05 * value
        if step % config.log_every == 0 or step == 1:
            entry = {
                "step": step,
                "seconds": round(time.monotonic() - started, 1),
                "loss": round(running, 4),
                **{k: round(v, 4) for k, v in parts.items()},
            }
            history.append(entry)
            log("train-decoder: " + " ".join(f"{k} {v}" for k, v in entry.items()))
        if step % config.checkpoint_every == 0:
            _checkpoint(out, model, opt, step)
    seconds = time.monotonic() - started
    _checkpoint(out, model, opt, step)
    weights = save_vocoder(out / "vocoder.safetensors", model)
    report = {
        "format": "riffgen-vocoder",
        "model": mc.to_json(),
        "parameters": count,
        "train": {k: v for k, v in asdict(config).items() if k != "model"},
        "data": {
            "folder": str(audio_dir),
            "files": len(names),
            "minutes": round(sum(c.size for c in clips) / mc.sample_rate / 60, 2),
        },
        "steps": step,
        "seconds": round(seconds, 1),
        "final_loss": round(float(running or 0), 4),
        "history": history,
    }
    (out / "vocoder.json").write_text(json.dumps(report, indent=1) + "\n")
    log(f"train-decoder: {step} steps in {seconds / 60:.1f} min -> {weights}")
    return DecoderTrainResult(out, weights, step, seconds, float(running or 0), first_loss)


def _checkpoint(out: Path, model: Vocoder, opt: torch.optim.Optimizer, step: int) -> None:
    tmp = out / "checkpoint.pt.tmp"
    torch.save(
        {
            "step": step,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "config": model.config.to_json(),
        },
        tmp,
    )
    os.replace(tmp, out / "checkpoint.pt")
