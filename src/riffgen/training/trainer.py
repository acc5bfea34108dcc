"""``riffgen train``: Stable Diffusion noise-prediction training on spectrogram images.

The objective is SD's: VAE latents (times the scaling factor) are noised at a random DDPM
timestep and the UNet predicts the noise (epsilon) or the velocity (v-prediction, per the
scheduler config), under an MSE loss. The VAE and text encoder stay frozen, so the same loop
trains a fine-tune of riffusion (full UNet or LoRA) or a small UNet from scratch (``--base`` a
folder with randomly initialised components).

OUT_DIR layout::

    OUT_DIR/pytorch_lora_weights.safetensors   (LoRA)      load with --lora OUT_DIR
    OUT_DIR/model_index.json, unet/, vae/, ... (full)      load with --model OUT_DIR
    OUT_DIR/riffgen.json                       (full)      spectrogram parameters
    OUT_DIR/train_config.toml                  settings used
    OUT_DIR/checkpoints/checkpoint-<step>/     accelerate state (resume with --resume)
    OUT_DIR/validation/step_<step>_<n>_<prompt>.png/.wav
    OUT_DIR/logs/train_log.jsonl               loss, learning rate, steps/s per log interval
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from riffgen.diffusion.prompts import max_length as prompt_max_length
from riffgen.errors import RiffgenError
from riffgen.training.config import TrainConfig
from riffgen.training.data import SpectrogramDataset, StepSampler, collate
from riffgen.training.model import (
    Components,
    load_components,
    noise_scheduler,
    save_full_model,
    save_lora,
)

CHECKPOINTS = "checkpoints"
TRAINER_STATE = "trainer_state.json"
LORA_CHECKPOINT = "lora_adapter.safetensors"
CONFIG_FILE = "train_config.toml"
# Text embeddings of at most this many distinct captions are kept (the encoder is frozen).
_EMBEDDING_CACHE = 4096
# Probe: fixed images x fixed timesteps, for a loss that moves only when the model does.
_PROBE_IMAGES = 4
_PROBE_TIMESTEPS = 4
_PROBE_SEED = 1234


@dataclass
class TrainResult:
    """What one ``train`` call did."""

    output_dir: Path
    mode: str  # "full" or "lora"
    start_step: int
    steps: int  # the step reached
    losses: list[float] = field(default_factory=list)  # per optimizer step, this run
    probe_losses: list[tuple[int, float]] = field(default_factory=list)
    train_seconds: float = 0.0  # in training steps only (no validation or saving)
    step_seconds: list[float] = field(default_factory=list)  # duration of each step
    validation_files: list[Path] = field(default_factory=list)

    @property
    def steps_per_second(self) -> float:
        done = self.steps - self.start_step
        return done / self.train_seconds if self.train_seconds > 0 else 0.0

    def line(self) -> str:
        loss = f", loss {self.losses[0]:.4f} -> {self.losses[-1]:.4f}" if self.losses else ""
        how = "--lora" if self.mode == "lora" else "--model"
        return (
            f"trained {self.mode} to step {self.steps} ({self.steps - self.start_step} this run,"
            f" {self.steps_per_second:.2f} steps/s{loss}); use it with {how} {self.output_dir}"
        )


def train(
    config: TrainConfig,
    *,
    on_step: Callable[[Trainer, int], None] | None = None,
    components: Components | None = None,
) -> TrainResult:
    """Run training as configured; ``on_step(trainer, step)`` is called after every step.

    ``components`` are used instead of loading ``config.base`` (e.g. built in memory)."""
    return Trainer(config, components=components).run(on_step=on_step)


class Trainer:
    """One training run: set up in ``__init__``, trained and saved by :meth:`run`."""

    def __init__(self, config: TrainConfig, *, components: Components | None = None) -> None:
        from accelerate import Accelerator
        from accelerate.utils import ProjectConfiguration, set_seed

        for name in ("dataset", "base", "output_dir"):
            if name == "base" and components is not None:
                continue
            if not getattr(config, name):
                raise RiffgenError(f"training needs {name.replace('_', ' ')}")
        self.config = config
        self.out = Path(config.output_dir)
        device = (config.device or "").lower()
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise RiffgenError(f"device {config.device!r} requested but CUDA is not available")
        # Accelerate keeps process-wide singletons; a second run in one process (tests,
        # notebooks) may change precision or accumulation, so start from a clean state.
        from accelerate.state import AcceleratorState, GradientState

        AcceleratorState._reset_state()
        GradientState._reset_state()
        try:
            self.accelerator = Accelerator(
                mixed_precision=config.mixed_precision,
                gradient_accumulation_steps=config.gradient_accumulation_steps,
                cpu=device == "cpu",
                project_config=ProjectConfiguration(project_dir=str(self.out)),
            )
        except (ValueError, RuntimeError) as exc:  # e.g. fp16 without a GPU
            raise RiffgenError(f"cannot set up training: {str(exc).splitlines()[0]}") from None
        if self.accelerator.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        if config.cpu_threads:
            torch.set_num_threads(config.cpu_threads)
        set_seed(config.seed)

        self.dataset = SpectrogramDataset(config.dataset)
        self.components = components or load_components(config.base)
        self.params = self.dataset.spectrogram_params() or self.components.spectrogram_params
        base_params = self.components.spectrogram_params
        shape = (self.params.num_frequencies, self.params.stereo)
        if config.is_lora and shape != (base_params.num_frequencies, base_params.stereo):
            # A LoRA cannot change the image the model makes: it would learn a format the
            # model never generates (e.g. riffusion's 512-mel images for the 128-mel mini).
            raise RiffgenError(
                f"the dataset's images have {self.params.num_frequencies} mel rows"
                f"{' (stereo)' if self.params.stereo else ''} but {config.base} makes "
                f"{base_params.num_frequencies}{' (stereo)' if base_params.stereo else ''}: "
                f"prepare the dataset in the model's format with "
                f"`riffgen prepare-dataset AUDIO_DIR OUT_DIR --model {config.base}`"
            )
        if self.params != base_params:
            self.log(
                "note: the dataset's spectrogram parameters differ from the base model's;"
                + (
                    " a full fine-tune records the dataset's"
                    if not config.is_lora
                    else " LoRA output is rendered with the base model's"
                )
            )
        self.scheduler = noise_scheduler(self.components, config.prediction_type)
        self.prediction_type = self.scheduler.config.prediction_type
        if self.prediction_type not in ("epsilon", "v_prediction"):
            raise RiffgenError(f"cannot train prediction type {self.prediction_type!r}")
        self.weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(
            self.accelerator.mixed_precision, torch.float32
        )
        self._setup_models()
        self._setup_optimizer()
        self._register_checkpoint_hooks()
        self.step = 0
        self._embedding_cache: dict[str, torch.Tensor] = {}
        self._latent_cache: tuple[torch.Tensor, torch.Tensor] | None = None
        self._empty_embedding: torch.Tensor | None = None

    # ------------------------------------------------------------------ setup

    def log(self, message: str) -> None:
        if self.accelerator.is_main_process:
            tqdm.write(message, file=sys.stdout)

    def _setup_models(self) -> None:
        c, config, dev = self.components, self.config, self.accelerator.device
        for frozen in (c.vae, c.text_encoder):
            frozen.requires_grad_(False)
            frozen.eval()
            _move(frozen, dev, self.weight_dtype)
        unet = c.unet
        if config.is_lora:
            from diffusers.training_utils import cast_training_params
            from peft import LoraConfig

            unet.requires_grad_(False)
            _move(unet, dev, self.weight_dtype)
            unet.add_adapter(
                LoraConfig(
                    r=config.lora_rank,
                    lora_alpha=config.effective_lora_alpha,
                    lora_dropout=config.lora_dropout,
                    init_lora_weights="gaussian",
                    target_modules=list(config.lora_targets),
                )
            )
            cast_training_params(unet, dtype=torch.float32)  # trainable weights in fp32
        else:
            unet.requires_grad_(True)
            unet.to(dev)  # fp32 master weights; accelerate autocasts the forward pass
        if config.gradient_checkpointing:
            unet.enable_gradient_checkpointing()
        unet.train()
        self.trainable = [p for p in unet.parameters() if p.requires_grad]
        if not self.trainable:
            raise RiffgenError(
                f"nothing to train: no UNet module matches lora_targets {config.lora_targets}"
            )
        self.ema = None
        if config.ema:
            from diffusers.training_utils import EMAModel

            self.ema = EMAModel(self.trainable, decay=config.ema_decay)
            self.ema.to(dev)

    def _setup_optimizer(self) -> None:
        from diffusers.optimization import get_scheduler

        config = self.config
        optimizer = torch.optim.AdamW(
            self.trainable,
            lr=config.effective_learning_rate,
            betas=(config.adam_beta1, config.adam_beta2),
            weight_decay=config.adam_weight_decay,
            eps=config.adam_epsilon,
        )
        n = self.accelerator.num_processes
        lr_scheduler = get_scheduler(
            config.lr_scheduler,
            optimizer=optimizer,
            num_warmup_steps=config.warmup_steps * n,
            num_training_steps=config.max_steps * n,
        )
        self.unet, self.optimizer, self.lr_scheduler = self.accelerator.prepare(
            self.components.unet, optimizer, lr_scheduler
        )
        if self.ema is not None:
            self.accelerator.register_for_checkpointing(self.ema)

    def _register_checkpoint_hooks(self) -> None:
        """LoRA checkpoints hold the adapter only, not a second copy of the whole UNet."""
        if not self.config.is_lora:
            return
        from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
        from safetensors.torch import load_file, save_file

        accelerator = self.accelerator

        def save_hook(models: list[Any], weights: list[Any], output_dir: str) -> None:
            if accelerator.is_main_process:
                for model in models:
                    state = get_peft_model_state_dict(accelerator.unwrap_model(model))
                    state = {k: v.detach().cpu().contiguous() for k, v in state.items()}
                    save_file(state, os.path.join(output_dir, LORA_CHECKPOINT))
            while weights:
                weights.pop()

        def load_hook(models: list[Any], input_dir: str) -> None:
            while models:
                model = models.pop()
                state = load_file(os.path.join(input_dir, LORA_CHECKPOINT))
                result = set_peft_model_state_dict(accelerator.unwrap_model(model), state)
                if getattr(result, "unexpected_keys", None):
                    raise RiffgenError(f"checkpoint {input_dir} does not fit this LoRA setup")

        accelerator.register_save_state_pre_hook(save_hook)
        accelerator.register_load_state_pre_hook(load_hook)

    # ------------------------------------------------------------------ encoding

    def encode_text(self, captions: list[str]) -> torch.Tensor:
        """Frozen text-encoder hidden states ``(batch, tokens, dim)``, cached per caption."""
        missing = [c for c in dict.fromkeys(captions) if c not in self._embedding_cache]
        if missing:
            tokenizer = self.components.tokenizer
            encoder = self.components.text_encoder
            max_length = prompt_max_length(tokenizer, encoder)  # unset/absurd -> the encoder's
            tokens = tokenizer(
                missing,
                padding="max_length",
                max_length=max_length,
                truncation=True,
                return_tensors="pt",
            )
            use_mask = bool(getattr(encoder.config, "use_attention_mask", False))
            mask = tokens.attention_mask.to(self.accelerator.device) if use_mask else None
            with torch.no_grad():
                hidden = encoder(tokens.input_ids.to(self.accelerator.device), attention_mask=mask)[
                    0
                ]
            for caption, h in zip(missing, hidden, strict=True):
                if len(self._embedding_cache) < _EMBEDDING_CACHE:
                    self._embedding_cache[caption] = h
            if any(c not in self._embedding_cache for c in captions):  # cache full
                lookup = dict(zip(missing, hidden, strict=True))
                return torch.stack([self._embedding_cache.get(c, lookup.get(c)) for c in captions])
        return torch.stack([self._embedding_cache[c] for c in captions])

    def _latent_scale(self, latents: torch.Tensor) -> torch.Tensor:
        vae_config = self.components.vae.config
        shift = getattr(vae_config, "shift_factor", None) or 0.0
        return (latents - shift) * vae_config.scaling_factor

    @torch.no_grad()
    def _latent_dist(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) of the VAE posterior for ``pixels`` in [-1, 1]."""
        vae = self.components.vae
        dist = vae.encode(pixels.to(self.accelerator.device, dtype=self.weight_dtype)).latent_dist
        return dist.mean.float(), dist.std.float()

    def _cache_all_latents(self) -> None:
        means, stds = [], []
        for start in range(0, len(self.dataset), 8):
            items = [self.dataset[i] for i in range(start, min(start + 8, len(self.dataset)))]
            mean, std = self._latent_dist(collate(items)["pixel_values"])
            means.append(mean.cpu())
            stds.append(std.cpu())
        self._latent_cache = (torch.cat(means), torch.cat(stds))

    def latents_for(self, batch: dict[str, Any]) -> torch.Tensor:
        """Sampled, scaled VAE latents of a batch."""
        if self._latent_cache is not None:
            idx = batch["indices"]
            mean = self._latent_cache[0][idx].to(self.accelerator.device)
            std = self._latent_cache[1][idx].to(self.accelerator.device)
        else:
            mean, std = self._latent_dist(batch["pixel_values"])
        return self._latent_scale(mean + std * torch.randn_like(mean))

    # ------------------------------------------------------------------ objective

    def diffusion_loss(
        self,
        latents: torch.Tensor,
        embeddings: torch.Tensor,
        noise: torch.Tensor,
        timesteps: torch.Tensor,
    ) -> torch.Tensor:
        """MSE between the UNet's prediction and its target (noise or velocity)."""
        noisy = self.scheduler.add_noise(latents, noise, timesteps)
        if self.prediction_type == "v_prediction":
            target = self.scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        prediction = self.unet(noisy, timesteps, embeddings, return_dict=False)[0]
        return F.mse_loss(prediction.float(), target.float(), reduction="mean")

    def _training_loss(self, batch: dict[str, Any]) -> torch.Tensor:
        config, dev = self.config, self.accelerator.device
        latents = self.latents_for(batch)
        captions = list(batch["captions"])
        if config.caption_dropout > 0:
            drop = torch.rand(len(captions)) < config.caption_dropout
            captions = ["" if d else c for c, d in zip(captions, drop.tolist(), strict=True)]
        embeddings = self.encode_text(captions).to(dtype=self.weight_dtype)
        noise = torch.randn_like(latents)
        if config.noise_offset:
            noise = noise + config.noise_offset * torch.randn(
                latents.shape[0], latents.shape[1], 1, 1, device=dev
            )
        timesteps = torch.randint(
            0, self.scheduler.config.num_train_timesteps, (latents.shape[0],), device=dev
        ).long()
        return self.diffusion_loss(latents, embeddings, noise, timesteps)

    @torch.no_grad()
    def probe_loss(self) -> float:
        """Loss on the first few images at fixed noise and fixed timesteps: it changes only
        when the weights do, so it measures learning without the noise of random draws."""
        indices = list(range(min(_PROBE_IMAGES, len(self.dataset))))
        batch = collate([self.dataset[i] for i in indices])
        mean, _ = self._latent_dist(batch["pixel_values"])
        latents = self._latent_scale(mean)
        embeddings = self.encode_text(batch["captions"]).to(dtype=self.weight_dtype)
        generator = torch.Generator().manual_seed(_PROBE_SEED)
        total = self.scheduler.config.num_train_timesteps
        losses = []
        for t in torch.linspace(total * 0.05, total * 0.95, _PROBE_TIMESTEPS).long().tolist():
            noise = torch.randn(latents.shape, generator=generator).to(latents.device)
            timesteps = torch.full((latents.shape[0],), t, device=latents.device, dtype=torch.long)
            with self.accelerator.autocast():
                losses.append(float(self.diffusion_loss(latents, embeddings, noise, timesteps)))
        return sum(losses) / len(losses)

    # ------------------------------------------------------------------ checkpoints

    @property
    def checkpoint_root(self) -> Path:
        return self.out / CHECKPOINTS

    def find_checkpoint(self, which: str) -> Path | None:
        """``"latest"`` -> newest checkpoint in OUT_DIR (None if there is none); else a path."""
        if which == "latest":
            found = sorted(
                (
                    p
                    for p in self.checkpoint_root.glob("checkpoint-*")
                    if (p / TRAINER_STATE).is_file()
                ),
                key=_checkpoint_step,
            )
            return found[-1] if found else None
        path = Path(which)
        if not (path / TRAINER_STATE).is_file():
            raise RiffgenError(f"not a training checkpoint: {path} (no {TRAINER_STATE})")
        return path

    def save_checkpoint(self) -> Path:
        final = self.checkpoint_root / f"checkpoint-{self.step}"
        tmp = self.checkpoint_root / f".checkpoint-{self.step}.tmp"
        if self.accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        self.accelerator.wait_for_everyone()
        self.accelerator.save_state(str(tmp))
        if self.accelerator.is_main_process:
            state = {
                "step": self.step,
                "mode": "lora" if self.config.is_lora else "full",
                "lora_rank": self.config.lora_rank,
                "batch_size": self.config.batch_size,
                "gradient_accumulation_steps": self.config.gradient_accumulation_steps,
                "dataset_size": len(self.dataset),
            }
            (tmp / TRAINER_STATE).write_text(json.dumps(state, indent=2) + "\n")
            self.config.save(tmp / CONFIG_FILE)
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)  # a checkpoint is either complete or absent
            self._prune_checkpoints()
        self.accelerator.wait_for_everyone()
        return final

    def _prune_checkpoints(self) -> None:
        limit = self.config.checkpoints_limit
        if limit is None:
            return
        found = sorted(self.checkpoint_root.glob("checkpoint-*"), key=_checkpoint_step)
        for old in found[: max(len(found) - limit, 0)]:
            shutil.rmtree(old, ignore_errors=True)

    def resume(self, which: str) -> None:
        path = self.find_checkpoint(which)
        if path is None:
            self.log(f"no checkpoint in {self.checkpoint_root} to resume from; starting at step 0")
            return
        state = json.loads((path / TRAINER_STATE).read_text())
        mode = "lora" if self.config.is_lora else "full"
        if state.get("mode") != mode or state.get("lora_rank") != self.config.lora_rank:
            raise RiffgenError(
                f"checkpoint {path} is a {state.get('mode')} run (LoRA rank"
                f" {state.get('lora_rank')}); this run is {mode} (rank {self.config.lora_rank})"
            )
        try:
            self.accelerator.load_state(str(path))
        except RiffgenError:
            raise
        except Exception as exc:
            raise RiffgenError(f"cannot resume from {path}: {str(exc).splitlines()[0]}") from exc
        self.step = int(state["step"])
        self.log(f"resumed from {path} at step {self.step}")

    # ------------------------------------------------------------------ saving, validation

    def _swap_ema(self) -> bool:
        """Put the EMA weights into the model (undo with :meth:`_restore_ema`)."""
        if self.ema is None:
            return False
        self.ema.store(self.trainable)
        self.ema.copy_to(self.trainable)
        return True

    def _restore_ema(self, swapped: bool) -> None:
        if swapped and self.ema is not None:
            self.ema.restore(self.trainable)

    def save_output(self, out_dir: Path | None = None, *, link: bool = False) -> Path:
        """Write the trained model (LoRA weights or a full model folder) to ``out_dir``."""
        out_dir = out_dir or self.out
        unet = self.accelerator.unwrap_model(self.unet)
        swapped = self._swap_ema()
        try:
            if self.config.is_lora:
                save_lora(unet, out_dir)
            else:
                save_full_model(unet, self.components, out_dir, params=self.params, link=link)
        finally:
            self._restore_ema(swapped)
        return out_dir

    def validate(self) -> list[Path]:
        """Render every validation prompt through riffgen's pipeline to OUT_DIR/validation.

        The pipeline is built around the model being trained (EMA weights if enabled), so
        nothing is reloaded; the saved output loads into the same pipeline class.
        """
        if not self.config.validation_prompts or not self.accelerator.is_main_process:
            return []
        from riffgen.audio import save_audio
        from riffgen.diffusion import RiffgenPipeline
        from riffgen.diffusion.schedulers import make_scheduler

        config, c = self.config, self.components
        val_dir = self.out / "validation"
        unet = self.accelerator.unwrap_model(self.unet)
        swapped = self._swap_ema()
        written: list[Path] = []
        try:
            pipe = RiffgenPipeline(
                unet=unet,
                vae=c.vae,
                text_encoder=c.text_encoder,
                tokenizer=c.tokenizer,
                scheduler=make_scheduler("pndm", c.scheduler_config),
                # A LoRA is rendered with its base model's parameters, a full model with its own.
                spectrogram_params=c.spectrogram_params if config.is_lora else self.params,
                device=self.accelerator.device,
                dtype=self.weight_dtype,
            )
            with self.accelerator.autocast():
                for n, prompt in enumerate(config.validation_prompts):
                    result = pipe.text_to_audio(
                        prompt,
                        seed=config.validation_seed,
                        num_inference_steps=config.validation_steps,
                        guidance=config.validation_guidance,
                        width=self.dataset.size[0],
                    )
                    stem = val_dir / f"step_{self.step:06d}_{n}_{_slug(prompt)}"
                    val_dir.mkdir(parents=True, exist_ok=True)
                    result.image.save(
                        stem.with_suffix(".png"), exif=result.image.info.get("exif", b"")
                    )
                    save_audio(stem.with_suffix(".wav"), result.audio, result.sample_rate)
                    written += [stem.with_suffix(".png"), stem.with_suffix(".wav")]
        finally:
            self._restore_ema(swapped)
            # The pipeline freezes what it is given; hand the trainable weights back.
            for param in self.trainable:
                param.requires_grad_(True)
            unet.train()
        self.log(f"validation at step {self.step}: {len(written) // 2} clip(s) in {val_dir}")
        return written

    # ------------------------------------------------------------------ the loop

    def _batches(self):
        sampler = StepSampler(
            len(self.dataset),
            seed=self.config.seed,
            start=self.step * self.config.gradient_accumulation_steps * self.config.batch_size,
            rank=self.accelerator.process_index,
            num_replicas=self.accelerator.num_processes,
        )
        loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_size=self.config.batch_size,
            sampler=sampler,
            collate_fn=collate,
            num_workers=self.config.num_workers,
            # Own generator: creating the iterator must not draw from the global RNG, or a
            # resumed run (iterator made after the RNG state is restored) would diverge.
            generator=torch.Generator().manual_seed(self.config.seed),
        )
        return iter(loader)

    def run(self, *, on_step: Callable[[Trainer, int], None] | None = None) -> TrainResult:
        config, accelerator = self.config, self.accelerator
        if config.resume:
            self.resume(config.resume)
        if accelerator.is_main_process:
            self.out.mkdir(parents=True, exist_ok=True)
            config.save(self.out / CONFIG_FILE)
        if config.cache_latents:
            self._cache_all_latents()
        result = TrainResult(
            output_dir=self.out,
            mode="lora" if config.is_lora else "full",
            start_step=self.step,
            steps=self.step,
        )
        if config.probe_every:
            result.probe_losses.append((self.step, self.probe_loss()))
        self.log(
            f"training {result.mode}"
            + (f" (LoRA rank {config.lora_rank})" if config.is_lora else "")
            + f" on {len(self.dataset)} images {self.dataset.size[0]}x{self.dataset.size[1]},"
            f" {sum(p.numel() for p in self.trainable):,} trainable parameters,"
            f" steps {self.step} -> {config.max_steps}, device {accelerator.device}"
        )
        batches = self._batches()
        bar = tqdm(
            total=config.max_steps,
            initial=self.step,
            unit="step",
            desc="training",
            disable=not (config.progress and accelerator.is_local_main_process),
            dynamic_ncols=True,
        )
        log_path = self.out / "logs" / "train_log.jsonl"
        window: list[float] = []
        window_start = time.perf_counter()
        window_train_s = 0.0
        try:
            while self.step < config.max_steps:
                started = time.perf_counter()
                loss = self._optimizer_step(batches)
                elapsed = time.perf_counter() - started
                result.train_seconds += elapsed
                result.step_seconds.append(elapsed)
                window_train_s += elapsed
                self.step += 1
                result.steps = self.step
                result.losses.append(loss)
                window.append(loss)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}")
                if config.probe_every and self.step % config.probe_every == 0:
                    result.probe_losses.append((self.step, self.probe_loss()))
                if config.log_every and (
                    self.step % config.log_every == 0 or self.step == config.max_steps
                ):
                    rate = len(window) / window_train_s if window_train_s > 0 else 0.0
                    lr = self.lr_scheduler.get_last_lr()[0]
                    mean = sum(window) / len(window)
                    self.log(
                        f"step {self.step}/{config.max_steps}  loss {mean:.4f}  lr {lr:.2e}"
                        f"  {rate:.2f} steps/s"
                    )
                    self._append_log(
                        log_path,
                        {
                            "step": self.step,
                            "loss": mean,
                            "lr": lr,
                            "steps_per_s": rate,
                            "wall_s": time.perf_counter() - window_start,
                        },
                    )
                    window, window_train_s = [], 0.0
                if config.checkpoint_every and self.step % config.checkpoint_every == 0:
                    self.save_checkpoint()
                if config.validation_every and self.step % config.validation_every == 0:
                    result.validation_files += self.validate()
                if on_step is not None:
                    on_step(self, self.step)
        finally:
            bar.close()
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            self.save_output()
            config.save(self.out / CONFIG_FILE)
        if config.validation_prompts and not (
            config.validation_every and self.step % config.validation_every == 0
        ):
            result.validation_files += self.validate()
        accelerator.end_training()
        return result

    def _optimizer_step(self, batches) -> float:
        """One optimizer update (``gradient_accumulation_steps`` micro-batches); mean loss."""
        accelerator, config = self.accelerator, self.config
        total = 0.0
        for _ in range(config.gradient_accumulation_steps):
            batch = next(batches)
            with accelerator.accumulate(self.unet):
                loss = self._training_loss(batch)
                if not torch.isfinite(loss):
                    raise RiffgenError(
                        f"loss became {float(loss)} at step {self.step + 1}: lower the learning"
                        " rate or use bf16 instead of fp16"
                    )
                accelerator.backward(loss)
                if accelerator.sync_gradients and config.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(self.trainable, config.max_grad_norm)
                self.optimizer.step()
                self.lr_scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
            total += float(accelerator.gather(loss.detach()[None]).mean())
        if self.ema is not None:
            self.ema.step(self.trainable)
        return total / config.gradient_accumulation_steps

    def _append_log(self, path: Path, record: dict[str, Any]) -> None:
        if not self.accelerator.is_main_process:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def _move(module: Any, device: torch.device, dtype: torch.dtype) -> None:
    # diffusers warns about .to(dtype=...) even when the dtype does not change.
    if dtype == torch.float32:
        module.to(device)
    else:
        module.to(device, dtype)


def _checkpoint_step(path: Path) -> int:
    match = re.search(r"checkpoint-(\d+)$", path.name)
    return int(match.group(1)) if match else -1


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    return slug[:limit] or "prompt"


__all__ = ["TrainResult", "Trainer", "train"]
