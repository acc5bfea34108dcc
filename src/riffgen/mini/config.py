"""How much data and how many steps each scale of the mini recipe uses.

The model's shape itself (spectrogram, VAE, UNet) is :func:`riffgen.models.configs.mini_spec`.
"""

from __future__ import annotations

from dataclasses import dataclass

from riffgen.models.configs import MINI_SPECTROGRAM, MiniArchitecture

__all__ = [
    "MINI_DEFAULT_STEPS",
    "MINI_SPECTROGRAM",
    "SCALES",
    "MiniArchitecture",
    "MiniTrainScale",
]

# The denoising steps the mini model recommends (its riffgen.json "defaults"): it is
# evaluated at 20 steps, and at 20 a jam runs >= 2x faster than real time on 2 CPU cores.
MINI_DEFAULT_STEPS = 20


@dataclass(frozen=True)
class MiniTrainScale:
    """How much data and how many steps one ``train_mini`` run uses."""

    name: str
    n_clips: int
    vae_steps: int
    vae_batch: int
    vae_crop: int  # random time crop (columns) for VAE training; the VAE is convolutional
    unet_steps: int
    unet_batch: int
    unet_lr: float = 2e-4
    vae_lr: float = 5e-4
    n_test: int = 0


SCALES: dict[str, MiniTrainScale] = {
    # A few minutes: proves the machinery end to end, the output is not music.
    "quick": MiniTrainScale(
        "quick", n_clips=24, vae_steps=60, vae_batch=4, vae_crop=128, unet_steps=60, unet_batch=4
    ),
    # `make train-mini`: sized for <= 2 h on 2 CPU cores. Measured on the 2-core dev box
    # (shared with other jobs): data 3.6-5.9 clips/s (2 workers) -> 9-15 min; VAE 0.67-1.8
    # steps/s (batch 8, 128-column crops) -> 11-30 min; UNet 0.58 steps/s in fp32, 0.94 with
    # bf16 autocast (batch 8, cached latents, 1 thread) -> 66 min. Measured run: 99 min in all.
    "full": MiniTrainScale(
        "full",
        n_clips=3000,
        vae_steps=1200,
        vae_batch=8,
        vae_crop=128,
        unet_steps=3600,
        unet_batch=8,
        n_test=300,
    ),
    # For a borrowed GPU (data still made on the CPU: `--data-only`, then `--dataset`): more
    # data (12000 clips: ~35-50 min of FluidSynth on 2 cores), larger batches, more steps.
    # Measured on an H100: VAE 20 steps/s (batch 32, 256-column crops) -> 5 min; UNet
    # 3.3 steps/s at batch 64 with the trainer's loader in-process (PNG decoding bound; now
    # with loader workers) -> at most ~75 min for 15000 steps.
    "gpu": MiniTrainScale(
        "gpu",
        n_clips=12000,
        vae_steps=6000,
        vae_batch=32,
        vae_crop=256,
        unet_steps=15000,
        unet_batch=64,
        unet_lr=3e-4,
        n_test=600,
    ),
}
