"""Training the mini VAE (diffusers AutoencoderKL) from scratch on spectrogram images.

Loss per pixel of the ``[-1, 1]`` image: L1 + MSE, weighted up where the spectrogram is quiet
(the image is already amplitude**0.25, but a plain L1 still lets the decoder blur the low-level
detail - reverb tails, soft accompaniment - that makes the audio sound full), plus a small KL
term so the latents stay a well-behaved diffusion space. Training uses random time crops: the
VAE is convolutional, crops are cheaper and augment the data. Afterwards ``scaling_factor``
is set to 1 / std of the latents (as SD's 0.18215 was chosen) so the UNet sees unit variance.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from riffgen.errors import RiffgenError
from riffgen.training.data import SpectrogramDataset


@dataclass
class VaeTrainConfig:
    steps: int = 3000
    batch_size: int = 8
    crop: int = 256  # columns per training crop (multiple of the VAE's downsampling)
    learning_rate: float = 5e-4
    kl_weight: float = 1e-5
    quiet_weight: float = 1.0  # extra weight of the quietest pixels (linear in level)
    seed: int = 0
    device: str | None = None  # None: cuda when available, else cpu
    log_every: int = 50


@dataclass
class VaeTrainResult:
    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)
    scaling_factor: float = 1.0
    recon_l1: float = 0.0  # mean |x - x_hat| on full images after training ([-1, 1] units)

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0


def pick_device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _load_images(dataset: SpectrogramDataset) -> torch.Tensor:
    """All images as one uint8 tensor ``(N, 1, H, W)`` (spectrograms are gray: R = G = B)."""
    items = []
    for i in range(len(dataset)):
        pixels = dataset[i]["pixel_values"][:1]
        items.append(((pixels + 1.0) * 127.5).round().to(torch.uint8))
    return torch.stack(items)


def _batch(images: torch.Tensor, idx: torch.Tensor, crop: int, gen: torch.Generator):
    width = images.shape[-1]
    crop = min(crop, width)
    starts = torch.randint(0, width - crop + 1, (len(idx),), generator=gen)
    parts = [
        images[i, :, :, s : s + crop] for i, s in zip(idx.tolist(), starts.tolist(), strict=True)
    ]
    x = torch.stack(parts).float() / 127.5 - 1.0
    return x.expand(-1, 3, -1, -1)


def vae_loss(vae: Any, x: torch.Tensor, config: VaeTrainConfig) -> torch.Tensor:
    posterior = vae.encode(x).latent_dist
    recon = vae.decode(posterior.sample()).sample
    # Riffusion images are inverted (255 = silence): quiet pixels are near +1 and get up to
    # 1 + quiet_weight times the weight of the loudest.
    weight = 1.0 + config.quiet_weight * (1.0 + x[:, :1]) / 2.0
    err = recon - x
    rec = (weight * (err.abs() + err.square())).mean()
    # KL summed over the latent, per image pixel: the same balance as SD's VAE loss
    # (sums over pixels and latents) with the reconstruction taken as a per-pixel mean.
    kl = posterior.kl().mean() / x[0].numel()
    return rec + config.kl_weight * kl


def train_vae(
    model_dir: str | Path,
    dataset_dir: str | Path,
    config: VaeTrainConfig | None = None,
    *,
    progress: bool = True,
) -> VaeTrainResult:
    """Train ``model_dir/vae`` on the images of ``dataset_dir``; save it back in place."""
    from diffusers import AutoencoderKL

    config = config or VaeTrainConfig()
    model_dir = Path(model_dir)
    device = pick_device(config.device)
    dataset = SpectrogramDataset(dataset_dir)
    vae = AutoencoderKL.from_pretrained(str(model_dir / "vae"), torch_dtype=torch.float32)
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    if config.crop % factor:
        raise RiffgenError(f"VAE crop {config.crop} must be a multiple of {factor}")
    images = _load_images(dataset)
    vae.to(device).train()
    optimizer = torch.optim.AdamW(vae.parameters(), lr=config.learning_rate, weight_decay=0.0)
    warmup = max(1, config.steps // 20)

    def lr_at(step: int) -> float:  # linear warmup, cosine decay to 10 %
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, config.steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    result = VaeTrainResult(steps=config.steps, seconds=0.0)
    start = time.perf_counter()
    for step in range(config.steps):
        idx = torch.randint(0, len(images), (config.batch_size,), generator=gen)
        x = _batch(images, idx, config.crop, gen).to(device)
        loss = vae_loss(vae, x, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        result.losses.append(float(loss.detach()))
        if progress and ((step + 1) % config.log_every == 0 or step + 1 == config.steps):
            rate = (step + 1) / (time.perf_counter() - start)
            recent = result.losses[-config.log_every :]
            print(
                f"vae: step {step + 1}/{config.steps} loss {sum(recent) / len(recent):.4f}"
                f" ({rate:.2f} steps/s)",
                flush=True,
            )
    result.seconds = time.perf_counter() - start
    vae.eval()
    result.scaling_factor, result.recon_l1 = _calibrate(vae, images, device)
    vae.register_to_config(scaling_factor=result.scaling_factor)
    vae.to("cpu").save_pretrained(str(model_dir / "vae"), safe_serialization=True)
    return result


@torch.no_grad()
def _calibrate(vae: Any, images: torch.Tensor, device: torch.device) -> tuple[float, float]:
    """(1 / std of the latent means over up to 256 full images, mean reconstruction L1)."""
    latents, errors = [], []
    for start in range(0, min(len(images), 256), 8):
        x = images[start : start + 8].float().div(127.5).sub(1.0).expand(-1, 3, -1, -1).to(device)
        mean = vae.encode(x).latent_dist.mean
        latents.append(mean.float().cpu())
        errors.append((vae.decode(mean).sample - x).abs().mean().item())
    std = float(torch.cat(latents).std())
    return (1.0 / std if std > 0 else 1.0), sum(errors) / len(errors)
