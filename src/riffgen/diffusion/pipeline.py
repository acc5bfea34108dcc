"""RiffgenPipeline: text / audio -> spectrogram image (Stable Diffusion) -> audio.

One class, diffusers style. Every mode runs the same denoising loop (:meth:`_denoise`):

- ``text_to_audio``: pure noise -> image, several seeds in one batch if asked.
- ``audio_to_audio``: img2img from an audio clip or a spectrogram image.
- ``inpaint``: img2img with a mask (image, time range or frequency range); the kept region
  is composited back from the input, so it comes back exactly as it was.
- ``interpolate``: the original Riffusion's alpha interpolation between two endpoints.

Facts kept from the original (riffusion/riffusion_pipeline.py): noise from CPU generators
seeded per endpoint; img2img noising starts at ``timesteps[-(int(steps * strength) + offset)]``
and the loop at ``timesteps[steps - init_timestep + offset:]``; at each masked step the kept
latent is reset to the noised original; interpolation slerps the two seeds' noise and lerps
embeddings, denoising and guidance. Negative prompts are honoured in every mode (the
original ignored them), and prompts may be weighted and longer than 77 tokens.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from riffgen.audio import SpectrogramParams, audio_to_image, image_to_audio
from riffgen.audio.decoders import DEFAULT_DECODER, check_decoder
from riffgen.diffusion import masks
from riffgen.diffusion.prompts import encode_prompts
from riffgen.diffusion.schedulers import check_scheduler_name, make_scheduler, scheduler_name_of
from riffgen.diffusion.tempo_seed import TEMPO_SEED_DENOISING, named_bpm, tempo_seed_image
from riffgen.diffusion.types import (
    DEFAULT_STEPS,
    MAX_CLIP_SECONDS,
    MAX_GUIDANCE,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    MAX_STEPS,
    PromptInput,
    RiffgenOutput,
)
from riffgen.errors import RiffgenError
from riffgen.models import DEFAULT_MODEL
from riffgen.models.devices import resolve_device, resolve_dtype
from riffgen.models.lexicon import expand_names

Callback = Callable[[int, int], None]
_EMBED_CACHE_SIZE = 16


def slerp(t: float, v0: torch.Tensor, v1: torch.Tensor, dot_threshold: float = 0.9995):
    """Spherical interpolation of two noise tensors (lerp when nearly parallel), as the original.

    Computed in float64 on the CPU; ``t`` = 0 and 1 return ``v0`` and ``v1`` exactly.
    """
    a, b = v0.double(), v1.double()
    dot = float((a * b).sum() / (a.norm() * b.norm()))
    if abs(dot) > dot_threshold:
        out = (1 - t) * a + t * b
    else:
        theta_0 = np.arccos(dot)
        sin_theta_0 = np.sin(theta_0)
        theta_t = theta_0 * t
        out = (np.sin(theta_0 - theta_t) / sin_theta_0) * a + (np.sin(theta_t) / sin_theta_0) * b
    return out.to(v0.dtype)


def lerp(a: float, b: float, t: float) -> float:
    """Scalar lerp exact at both ends (t=0 -> a, t=1 -> b)."""
    return (1.0 - t) * a + t * b


def _cut(audio: torch.Tensor, sample_rate: int, duration_s: float | None) -> torch.Tensor:
    """The first ``duration_s`` seconds of ``audio`` (all of it for None)."""
    return audio if duration_s is None else audio[..., : int(round(duration_s * sample_rate))]


def _cpu_generator(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(int(seed))


@contextlib.contextmanager
def decoding(pipe: Any, decoder: str | None) -> Iterator[Any]:
    """``pipe`` decoding its images with ``decoder`` for the block (None: as it is), then its
    own decoder again. For the one thread that drives ``pipe`` (a server worker, a batch
    runner); pipelines without a ``decoder`` (stand-ins) get one for the block."""
    if decoder is None:
        yield pipe
        return
    decoder = check_decoder(decoder)
    had = "decoder" in vars(pipe) or hasattr(type(pipe), "decoder")
    previous = getattr(pipe, "decoder", None)
    pipe.decoder = decoder
    try:
        yield pipe
    finally:
        if had:
            pipe.decoder = previous
        else:
            with contextlib.suppress(AttributeError):
                del pipe.decoder


class RiffgenPipeline:
    """Riffusion-style music generation with diffusers components (UNet, VAE, CLIP, scheduler).

    Build it with :meth:`from_pretrained`, or inject components directly (the scheduler is
    the default one; each call may name another and gets a fresh instance, so calls do not
    share scheduler state).
    """

    def __init__(
        self,
        *,
        unet: Any,
        vae: Any,
        text_encoder: Any,
        tokenizer: Any,
        scheduler: Any,
        spectrogram_params: SpectrogramParams | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        model_source: str | None = None,
        lora: str | None = None,
        decoder: str = DEFAULT_DECODER,
        default_steps: int = DEFAULT_STEPS,
        lexicon: bool = False,
    ) -> None:
        self.unet = unet
        self.vae = vae
        self.text_encoder = text_encoder
        self.tokenizer = tokenizer
        self.scheduler = scheduler
        self.spectrogram_params = spectrogram_params or SpectrogramParams()
        self.model_source = model_source
        self.lora = lora
        self.decoder = decoder
        self.default_steps = default_steps
        # Add family words after instrument names the model never saw ("Strat" -> "Strat
        # electric guitar": riffgen.models.lexicon). On for riffgen's own sentence-encoder
        # models, whose captions name families; off for CLIP models, which get every prompt
        # as written, as the original does. Settable.
        self.lexicon = lexicon
        self._device = torch.device(device) if device is not None else unet.device
        self._dtype = dtype or unet.dtype
        self._embed_cache: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        for module in (unet, vae, text_encoder):
            module.requires_grad_(False)
            module.eval()
        if self.height % self.vae_scale_factor:
            raise RiffgenError(
                f"the model's mel count ({self.height}) must be a multiple of "
                f"{self.vae_scale_factor} px"
            )

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_pretrained(
        cls,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        lora: str | os.PathLike[str] | None = None,
        lora_scale: float = 1.0,
        scheduler: str = "pndm",
        decoder: str = DEFAULT_DECODER,
    ) -> RiffgenPipeline:
        """Load any model the registry resolves (``mini``, ``debug``, a hub id, a diffusers
        directory, a single SD1.x ``.safetensors``/``.ckpt`` file; see
        :mod:`riffgen.models.registry`). ``device``/``dtype`` None = auto. ``decoder``: how
        images become audio (see :attr:`decoder`)."""
        from riffgen.models.lora import load_lora
        from riffgen.models.registry import load_components

        check_scheduler_name(scheduler)
        check_decoder(decoder)
        dev = resolve_device(device)
        dt = resolve_dtype(dtype, dev)
        parts = load_components(model, dtype=dt)
        if lora is not None:
            load_lora(parts.unet, lora, scale=lora_scale)
        return cls.from_components(
            parts,
            device=dev,
            scheduler=scheduler,
            lora=None if lora is None else os.fspath(lora),
            decoder=decoder,
        )

    @classmethod
    def from_components(
        cls,
        parts: Any,
        *,
        device: str | torch.device | None = None,
        scheduler: str = "pndm",
        lora: str | None = None,
        decoder: str = DEFAULT_DECODER,
    ) -> RiffgenPipeline:
        """A pipeline over loaded :class:`riffgen.models.Components` (moved to ``device``)."""
        dev = resolve_device(device)
        if dev.type != "cpu":  # already loaded in their dtype; only move (no second copy kept)
            for module in parts.modules():
                module.to(dev)
        return cls(
            unet=parts.unet,
            vae=parts.vae,
            text_encoder=parts.text_encoder,
            tokenizer=parts.tokenizer,
            scheduler=make_scheduler(scheduler, parts.scheduler.config),
            spectrogram_params=parts.spectrogram_params,
            device=dev,
            dtype=parts.unet.dtype,
            model_source=parts.source,
            lora=lora,
            decoder=decoder,
            default_steps=getattr(parts, "defaults", {}).get("steps", DEFAULT_STEPS),
            lexicon=getattr(parts, "text_encoder_ref", None) is not None,
        )

    # ------------------------------------------------------------------ properties

    @property
    def default_steps(self) -> int:
        """The denoising steps a call makes when it names none (``num_inference_steps=None``):
        the model's recommended number (``riffgen.json`` "defaults"), else 50; settable."""
        return self._default_steps

    @default_steps.setter
    def default_steps(self, steps: int) -> None:
        self.check_inputs(prompt="", steps=steps)
        self._default_steps = steps

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    @property
    def decoder(self) -> str:
        """How every mode turns its image into audio: ``"griffin-lim"``, ``"vocoder"`` or
        ``"original"`` (:func:`riffgen.audio.image_to_audio`); settable, and per block with
        :func:`decoding`. The outputs' ``parameters["decoder"]`` names the one that ran (a
        vocoder that cannot decode the model's format falls back to Griffin-Lim)."""
        return self._decoder

    @decoder.setter
    def decoder(self, name: str) -> None:
        self._decoder = check_decoder(name)

    def _decoder_used(self) -> str:
        from riffgen.audio.convert import resolve_decoder

        return resolve_decoder(self._decoder, self.spectrogram_params)

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def height(self) -> int:
        """Image height in px = the model's mel count."""
        return self.spectrogram_params.num_frequencies

    @property
    def max_width(self) -> int:
        """The widest image one call generates: :data:`MAX_CLIP_SECONDS`, in whole latents."""
        cols = int(MAX_CLIP_SECONDS * self.spectrogram_params.sample_rate) // (
            self.spectrogram_params.hop_length
        )
        return cols // self.vae_scale_factor * self.vae_scale_factor

    def width_for_duration(self, duration_s: float) -> int:
        """Smallest width (a multiple of the VAE's factor) covering ``duration_s`` seconds."""
        seconds = float(duration_s)
        if not (np.isfinite(seconds) and 0 < seconds <= MAX_CLIP_SECONDS):
            raise RiffgenError(
                f"duration must be above 0 and at most {MAX_CLIP_SECONDS:g} s per generated "
                f"clip, got {duration_s}; make longer music with `riffgen jam` or transform"
            )
        cols = self.spectrogram_params.width_for_duration(seconds)
        f = self.vae_scale_factor
        return max(f, -(-cols // f) * f)

    # ------------------------------------------------------------------ public modes

    def text_to_audio(
        self,
        prompt: str,
        *,
        negative_prompt: str | None = None,
        seed: int = 0,
        num_inference_steps: int | None = None,
        guidance: float = 7.0,
        width: int = 512,
        duration_s: float | None = None,
        scheduler: str | None = None,
        callback: Callback | None = None,
        tempo_seed: bool = True,
    ) -> RiffgenOutput:
        """Generate a clip from text. ``duration_s`` (s), if given, overrides ``width`` (px)
        with the smallest multiple of 8 px covering it, and the audio is cut to it.
        ``tempo_seed``: a prompt that names its BPM starts from a beat at that tempo
        (:mod:`riffgen.diffusion.tempo_seed`)."""
        return self.text_to_audio_batch(
            prompt,
            seeds=[seed],
            negative_prompt=negative_prompt,
            num_inference_steps=num_inference_steps,
            guidance=guidance,
            width=width,
            duration_s=duration_s,
            scheduler=scheduler,
            callback=callback,
            tempo_seed=tempo_seed,
        )[0]

    @torch.inference_mode()
    def text_to_audio_batch(
        self,
        prompt: str,
        *,
        seeds: Sequence[int],
        negative_prompt: str | None = None,
        num_inference_steps: int | None = None,
        guidance: float = 7.0,
        width: int = 512,
        duration_s: float | None = None,
        scheduler: str | None = None,
        callback: Callback | None = None,
        tempo_seed: bool = True,
    ) -> list[RiffgenOutput]:
        """One clip per seed, denoised together in one batch; each equals its single run
        up to floating-point batching differences. ``num_inference_steps`` None: the
        model's :attr:`default_steps`. ``tempo_seed``: see :meth:`text_to_audio`."""
        # 1. Check inputs
        if num_inference_steps is None:
            num_inference_steps = self.default_steps
        if duration_s is not None:
            if not duration_s > 0:
                raise RiffgenError(f"duration must be > 0 s, got {duration_s}")
            width = self.width_for_duration(duration_s)
        seeds = list(seeds)
        self.check_inputs(
            prompt=prompt,
            negative_prompt=negative_prompt,
            seeds=seeds,
            steps=num_inference_steps,
            guidance=guidance,
            width=width,
            scheduler=scheduler,
        )
        bpm = named_bpm(prompt) if tempo_seed else None
        if bpm is not None:  # the prompt names its tempo: start from a beat at it
            return [
                self._tempo_seeded(
                    PromptInput(prompt, seed, negative_prompt, TEMPO_SEED_DENOISING, guidance),
                    bpm,
                    steps=num_inference_steps,
                    width=width,
                    duration_s=duration_s,
                    scheduler=scheduler,
                    callback=callback,
                )
                for seed in seeds
            ]
        sched = self._scheduler(scheduler)
        # 2. Encode the prompt and the negative prompt (same number of 77-token chunks)
        cond, uncond = self.encode_prompt_pair(prompt, negative_prompt)
        n = len(seeds)
        cond, uncond = cond.repeat(n, 1, 1), uncond.repeat(n, 1, 1)
        # 3. Initial noise from one CPU generator per seed (device independent)
        generators = [_cpu_generator(s) for s in seeds]
        shape = (1, 4, self.height // self.vae_scale_factor, width // self.vae_scale_factor)
        noise = torch.cat([torch.randn(shape, generator=g) for g in generators])
        # 4. Timesteps
        sched.set_timesteps(num_inference_steps, device=self.device)
        latents = noise.to(self.device, self.dtype) * sched.init_noise_sigma
        # 5. Denoise
        latents = self._denoise(
            latents,
            cond=cond,
            uncond=uncond,
            guidance=guidance,
            scheduler=sched,
            timesteps=sched.timesteps,
            generators=generators,
            callback=callback,
        )
        # 6. Decode to images and audio
        images = self.decode_latents(latents)
        outputs = []
        for seed, image in zip(seeds, images, strict=True):
            params = self._base_parameters(
                "text_to_audio",
                prompt=prompt,
                negative_prompt=negative_prompt,
                seed=seed,
                steps=num_inference_steps,
                guidance=guidance,
                scheduler=sched,
                width=width,
            )
            params["duration_s"] = duration_s
            outputs.append(self._output(image, seed=seed, parameters=params, duration_s=duration_s))
        return outputs

    @torch.inference_mode()
    def audio_to_audio(
        self,
        prompt: str,
        *,
        init_image: Image.Image | None = None,
        init_audio: np.ndarray | None = None,
        sample_rate: int | None = None,
        denoising: float = 0.75,
        negative_prompt: str | None = None,
        seed: int = 0,
        num_inference_steps: int | None = None,
        guidance: float = 7.0,
        scheduler: str | None = None,
        callback: Callback | None = None,
    ) -> RiffgenOutput:
        """Transform a clip (``init_audio`` [ch, n] at ``sample_rate`` Hz) or a spectrogram
        image. ``denoising`` in [0, 1]: 0 returns the input image, 1 nearly ignores it."""
        endpoint = PromptInput(prompt, seed, negative_prompt, denoising, guidance)
        out = self._img2img(
            endpoint,
            endpoint,
            0.0,
            init_image=self.prepare_init_image(init_image, init_audio, sample_rate),
            mask=None,
            original_mask=False,
            steps=num_inference_steps,
            scheduler=scheduler,
            callback=callback,
        )
        out.parameters = self._endpoint_parameters("audio_to_audio", endpoint, out)
        return out

    @torch.inference_mode()
    def inpaint(
        self,
        prompt: str,
        *,
        init_image: Image.Image | None = None,
        init_audio: np.ndarray | None = None,
        sample_rate: int | None = None,
        mask_image: Image.Image | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        min_hz: float | None = None,
        max_hz: float | None = None,
        denoising: float = 1.0,
        negative_prompt: str | None = None,
        seed: int = 0,
        num_inference_steps: int | None = None,
        guidance: float = 7.0,
        scheduler: str | None = None,
        callback: Callback | None = None,
    ) -> RiffgenOutput:
        """Regenerate part of a clip: white in ``mask_image`` (resized to the clip), or the
        time range ``start_s``-``end_s`` (s) and/or the band ``min_hz``-``max_hz`` (Hz).
        The rest comes back exactly as it was (edges blended on the repainted side)."""
        image = self.prepare_init_image(init_image, init_audio, sample_rate)
        ranges = (start_s, end_s, min_hz, max_hz)
        if mask_image is not None and any(v is not None for v in ranges):
            raise RiffgenError("give either a mask image or a time/frequency range, not both")
        if mask_image is None and all(v is None for v in ranges):
            raise RiffgenError("inpainting needs a mask image or a time/frequency range")
        if mask_image is not None:
            mask = masks.mask_from_image(mask_image, width=image.width, height=image.height)
        else:
            mask = masks.mask_from_ranges(
                self.spectrogram_params,
                width=image.width,
                start_s=start_s,
                end_s=end_s,
                min_hz=min_hz,
                max_hz=max_hz,
            )
        endpoint = PromptInput(prompt, seed, negative_prompt, denoising, guidance)
        out = self._img2img(
            endpoint,
            endpoint,
            0.0,
            init_image=image,
            mask=mask,
            original_mask=False,
            steps=num_inference_steps,
            scheduler=scheduler,
            callback=callback,
        )
        params = self._endpoint_parameters("inpaint", endpoint, out)
        params.update(
            start_s=start_s,
            end_s=end_s,
            min_hz=min_hz,
            max_hz=max_hz,
            mask_image=mask_image is not None,
            repainted_fraction=float(mask.mean()),
        )
        out.parameters = params
        return out

    @torch.inference_mode()
    def interpolate(
        self,
        start: PromptInput,
        end: PromptInput,
        alpha: float,
        *,
        init_image: Image.Image,
        mask_image: Image.Image | None = None,
        num_inference_steps: int | None = None,
        scheduler: str | None = None,
        callback: Callback | None = None,
    ) -> RiffgenOutput:
        """The original's ``riffuse``: img2img of ``init_image`` at ``alpha`` in [0, 1] between
        two endpoints. alpha 0 equals ``audio_to_audio`` with ``start``'s values, 1 with ``end``'s.
        """
        image = self.prepare_init_image(init_image, None, None)
        mask = None
        if mask_image is not None:
            mask = masks.mask_from_image(mask_image, width=image.width, height=image.height)
        out = self._img2img(
            start,
            end,
            alpha,
            init_image=image,
            mask=mask,
            original_mask=True,
            steps=num_inference_steps,
            scheduler=scheduler,
            callback=callback,
        )
        params = self._common_parameters("interpolate", out.image.width, out.parameters)
        params.update(
            alpha=float(alpha),
            start=_endpoint_dict(start),
            end=_endpoint_dict(end),
            num_inference_steps=out.parameters["num_inference_steps"],
            mask_image=mask_image is not None,
        )
        out.parameters = params
        return out

    # ------------------------------------------------------------------ checks

    def check_inputs(
        self,
        *,
        prompt: str,
        negative_prompt: str | None = None,
        seeds: Sequence[int] = (0,),
        steps: int = 50,
        guidance: float = 7.0,
        width: int | None = None,
        denoising: float | None = None,
        alpha: float | None = None,
        scheduler: str | None = None,
    ) -> None:
        """Raise :class:`RiffgenError` naming the first bad value."""
        for name, text in (("prompt", prompt), ("negative prompt", negative_prompt)):
            if text is None and name == "negative prompt":
                continue
            if not isinstance(text, str):
                raise RiffgenError(f"{name} must be a string, got {type(text).__name__}")
            if len(text) > MAX_PROMPT_CHARS:
                raise RiffgenError(
                    f"{name} is {len(text)} characters long: at most {MAX_PROMPT_CHARS}"
                )
        if not seeds:
            raise RiffgenError("at least one seed is needed")
        for seed in seeds:
            if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
                raise RiffgenError(f"seed must be an integer, got {seed!r}")
            if not 0 <= int(seed) <= MAX_SEED:
                raise RiffgenError(f"seed must be in 0..{MAX_SEED}, got {seed}")
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
            raise RiffgenError(
                f"number of inference steps must be an integer from 1 to {MAX_STEPS}"
                f" (the model's noise schedule has 1000 timesteps), got {steps!r}"
            )
        if not (np.isfinite(guidance) and 0 <= guidance <= MAX_GUIDANCE):
            raise RiffgenError(
                f"guidance must be a number from 0 to {MAX_GUIDANCE:g}, got {guidance}"
            )
        if width is not None:
            f = self.vae_scale_factor
            if isinstance(width, bool) or not isinstance(width, int) or width < f or width % f:
                raise RiffgenError(f"width must be a positive multiple of {f} px, got {width}")
            max_width = self.max_width
            if width > max_width:
                raise RiffgenError(
                    f"width is {width} px: at most {max_width} px ({MAX_CLIP_SECONDS:g} s) per "
                    "generated clip; make longer music with `riffgen jam` or transform"
                )
        if denoising is not None and not 0.0 <= float(denoising) <= 1.0:
            raise RiffgenError(f"denoising must be in [0, 1], got {denoising}")
        if alpha is not None and not 0.0 <= float(alpha) <= 1.0:
            raise RiffgenError(f"alpha must be in [0, 1], got {alpha}")
        if scheduler is not None:
            check_scheduler_name(scheduler)

    # ------------------------------------------------------------------ building blocks

    def encode_prompt_pair(
        self, prompt: str, negative_prompt: str | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(cond, uncond) embeddings ``[1, chunks * 77, dim]``, padded to the same length."""
        cond, uncond = self._encode([prompt, negative_prompt or ""])
        return cond[None], uncond[None]

    def _encode(self, prompts: list[str]) -> torch.Tensor:
        """Cached :func:`encode_prompts` (the server re-uses the same prompts constantly)."""
        if self.lexicon:
            prompts = [expand_names(p) for p in prompts]
        key = tuple(prompts)
        if key in self._embed_cache:
            self._embed_cache.move_to_end(key)
            return self._embed_cache[key]
        emb = encode_prompts(self.tokenizer, self.text_encoder, prompts).to(self.dtype)
        self._embed_cache[key] = emb
        while len(self._embed_cache) > _EMBED_CACHE_SIZE:
            self._embed_cache.popitem(last=False)
        return emb

    def prepare_init_image(
        self,
        init_image: Image.Image | None,
        init_audio: np.ndarray | None,
        sample_rate: int | None,
    ) -> Image.Image:
        """Audio or image -> RGB spectrogram image of the model's height, width cropped to a
        multiple of 8 px (cropping, not resizing, so time is not stretched)."""
        if (init_image is None) == (init_audio is None):
            raise RiffgenError("give exactly one of an init image or init audio")
        if init_audio is not None:
            if sample_rate is None:
                raise RiffgenError("init audio needs its sample rate")
            audio = np.asarray(init_audio, dtype=np.float32)
            if audio.size == 0:
                raise RiffgenError("init audio is empty")
            init_image = audio_to_image(audio, int(sample_rate), self.spectrogram_params)
        image = _to_rgb(init_image)
        if image.height != self.height:
            image = image.resize((image.width, self.height), resample=Image.LANCZOS)
        f = self.vae_scale_factor
        width = image.width - image.width % f
        if width < f:
            raise RiffgenError(f"init image is {image.width} px wide; at least {f} px are needed")
        if width != image.width:
            image = image.crop((0, 0, width, image.height))
        return image

    def encode_image(self, image: Image.Image, eps: torch.Tensor) -> torch.Tensor:
        """VAE posterior sample ``mean + std * eps``, times the VAE scaling factor."""
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
        pixels = (pixels.permute(2, 0, 1)[None] * 2.0 - 1.0).to(self.device, self.dtype)
        dist = self.vae.encode(pixels).latent_dist
        latents = dist.mean + dist.std * eps.to(self.device, self.dtype)
        return latents * self.vae.config.scaling_factor

    def decode_latents(self, latents: torch.Tensor) -> list[Image.Image]:
        """Latents -> RGB images (one VAE decode per sample keeps peak memory low)."""
        images = []
        for one in latents.split(1):
            x = self.vae.decode(one / self.vae.config.scaling_factor).sample
            x = (x / 2 + 0.5).clamp(0, 1)[0].permute(1, 2, 0).float().cpu().numpy()
            images.append(Image.fromarray((x * 255).round().astype(np.uint8), mode="RGB"))
        return images

    # ------------------------------------------------------------------ the shared core

    def _tempo_seeded(
        self,
        point: PromptInput,
        bpm: float,
        *,
        steps: int,
        width: int,
        duration_s: float | None,
        scheduler: str | None,
        callback: Callback | None,
    ) -> RiffgenOutput:
        """text-to-audio from the backbeat at ``bpm`` (img2img at the seed's denoising)."""
        out = self.audio_to_audio(
            point.prompt,
            init_image=tempo_seed_image(bpm, self.spectrogram_params, width=width),
            denoising=point.denoising,
            negative_prompt=point.negative_prompt,
            seed=point.seed,
            num_inference_steps=steps,
            guidance=point.guidance,
            scheduler=scheduler,
            callback=callback,
        )
        out.parameters["mode"] = "text_to_audio"
        out.parameters.update(duration_s=duration_s, tempo_seed_bpm=bpm)
        out.audio = _cut(out.audio, out.sample_rate, duration_s)
        return out

    def _img2img(
        self,
        start: PromptInput,
        end: PromptInput,
        alpha: float,
        *,
        init_image: Image.Image,
        mask: np.ndarray | None,
        original_mask: bool,
        steps: int | None,
        scheduler: str | None,
        callback: Callback | None,
    ) -> RiffgenOutput:
        """img2img / inpainting / interpolation: the original's ``riffuse`` with extras.
        ``steps`` None: the model's :attr:`default_steps`."""
        if steps is None:
            steps = self.default_steps
        # 1. Check inputs and lerp the scalar knobs
        for point in (start, end):
            self.check_inputs(
                prompt=point.prompt,
                negative_prompt=point.negative_prompt,
                seeds=[point.seed],
                steps=steps,
                guidance=point.guidance,
                denoising=point.denoising,
                scheduler=scheduler,
            )
        self.check_inputs(prompt="", alpha=alpha)
        if init_image.width > self.max_width:
            raise RiffgenError(
                f"the input is {init_image.width} px "
                f"({self.spectrogram_params.num_samples(init_image.width) / self.spectrogram_params.sample_rate:.1f} s) wide: at most"
                f" {self.max_width} px ({MAX_CLIP_SECONDS:g} s) per clip; transform longer audio"
                " with `riffgen transform` (it works in windows)"
            )
        alpha = float(alpha)
        strength = lerp(start.denoising, end.denoising, alpha)
        guidance = lerp(start.guidance, end.guidance, alpha)
        sched = self._scheduler(scheduler)
        parameters = {
            "denoising": strength,
            "guidance": guidance,
            "scheduler": sched,
            "num_inference_steps": steps,
        }
        if strength == 0.0:  # nothing to denoise: the input comes back untouched
            if callback is not None:
                callback(0, 0)
            return self._output(init_image, seed=start.seed, parameters=parameters)

        # 2. Text embeddings: lerp of the endpoints (prompt and negative prompt)
        emb = self._encode(
            [start.prompt, end.prompt, start.negative_prompt or "", end.negative_prompt or ""]
        )
        cond = torch.lerp(emb[0], emb[1], alpha)[None] if alpha else emb[0][None]
        uncond = torch.lerp(emb[2], emb[3], alpha)[None] if alpha else emb[2][None]

        # 3. Noise: each endpoint's seed on a fresh CPU generator, slerped (the original drew
        #    the VAE sample from the start seed only; slerping it too makes alpha=1 equal the
        #    end point exactly, the original's own TODO)
        f = self.vae_scale_factor
        shape = (1, 4, init_image.height // f, init_image.width // f)
        noise_a = torch.randn(shape, generator=_cpu_generator(start.seed))
        noise_b = torch.randn(shape, generator=_cpu_generator(end.seed))
        noise = slerp(alpha, noise_a, noise_b)
        eps = slerp(alpha, torch.randn(shape, generator=_cpu_generator(start.seed)),
                    torch.randn(shape, generator=_cpu_generator(end.seed)))  # fmt: skip

        # 4. Encode the seed image and noise it to the starting timestep
        init_latents = self.encode_image(init_image, eps)
        noise = noise.to(self.device, self.dtype)
        sched.set_timesteps(steps, device=self.device)
        offset = sched.config.get("steps_offset", 0)
        init_timestep = min(int(steps * strength) + offset, steps)
        t_noise = sched.timesteps[-init_timestep].reshape(1)
        latents = sched.add_noise(init_latents, noise, t_noise)
        t_start = max(steps - init_timestep + offset, 0)
        timesteps = sched.timesteps[t_start:]

        # 5. Latent mask (1 = keep): the original's nearest resize for interpolation,
        #    a covering max-pool for inpainting
        keep = None
        if mask is not None:
            to_latent = masks.latent_keep_original if original_mask else masks.latent_keep_covering
            keep = to_latent(mask, factor=f).to(self.device, self.dtype)

        # 6. Denoise
        generator = _cpu_generator(start.seed)  # only stochastic schedulers (euler-a) use it
        latents = self._denoise(
            latents,
            cond=cond,
            uncond=uncond,
            guidance=guidance,
            scheduler=sched,
            timesteps=timesteps,
            generators=[generator],
            keep=keep,
            init_latents=init_latents,
            noise=noise,
            callback=callback,
        )

        # 7. Decode; put the kept pixels back exactly, blending at the edges
        image = self.decode_latents(latents)[0]
        if mask is not None:
            image = masks.composite(init_image, image, masks.blend_weights(mask))
        return self._output(image, seed=start.seed, parameters=parameters)

    def _denoise(
        self,
        latents: torch.Tensor,
        *,
        cond: torch.Tensor,
        uncond: torch.Tensor,
        guidance: float,
        scheduler: Any,
        timesteps: torch.Tensor,
        generators: list[torch.Generator],
        keep: torch.Tensor | None = None,
        init_latents: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        callback: Callback | None = None,
    ) -> torch.Tensor:
        """The denoising loop shared by every mode (classifier-free guidance when > 1)."""
        do_cfg = guidance > 1.0
        context = torch.cat([uncond, cond]) if do_cfg else cond
        step_kwargs = self._step_kwargs(scheduler, generators)
        total = len(timesteps)
        for i, t in enumerate(timesteps):
            model_in = torch.cat([latents] * 2) if do_cfg else latents
            model_in = scheduler.scale_model_input(model_in, t)
            noise_pred = self.unet(model_in, t, encoder_hidden_states=context).sample
            if do_cfg:
                pred_uncond, pred_cond = noise_pred.chunk(2)
                noise_pred = pred_uncond + guidance * (pred_cond - pred_uncond)
            latents = scheduler.step(noise_pred, t, latents, **step_kwargs).prev_sample
            if keep is not None:
                # Reset the kept region to the original, noised to this step (as the original)
                proper = scheduler.add_noise(init_latents, noise, t.reshape(1))
                latents = proper * keep + latents * (1 - keep)
            if callback is not None:
                callback(i + 1, total)
        return latents

    # ------------------------------------------------------------------ helpers

    def _scheduler(self, name: str | None) -> Any:
        """A fresh scheduler (no state shared between calls): ``name`` or the default's kind."""
        if name is None:
            return type(self.scheduler).from_config(self.scheduler.config)
        return make_scheduler(name, self.scheduler.config)

    @staticmethod
    def _step_kwargs(scheduler: Any, generators: list[torch.Generator]) -> dict[str, Any]:
        accepted = set(inspect.signature(scheduler.step).parameters)
        kwargs: dict[str, Any] = {}
        if "eta" in accepted:
            kwargs["eta"] = 0.0
        if "generator" in accepted:
            kwargs["generator"] = generators[0] if len(generators) == 1 else generators
        return kwargs

    def _output(
        self,
        image: Image.Image,
        *,
        seed: int,
        parameters: dict[str, Any],
        duration_s: float | None = None,
    ) -> RiffgenOutput:
        """Tag the image with the spectrogram EXIF and decode it to audio."""
        exif = image.getexif()
        for tag, value in self.spectrogram_params.to_exif().items():
            exif[int(tag)] = value
        image.info["exif"] = exif.tobytes()
        audio_device = self.device if self.device.type == "cuda" else "cpu"
        audio, sr = image_to_audio(
            image,
            self.spectrogram_params,
            seed=seed,
            device=audio_device,
            decoder=self._decoder_used(),
        )
        return RiffgenOutput(
            audio=_cut(audio, sr, duration_s), sample_rate=sr, image=image, parameters=parameters
        )

    def _common_parameters(self, mode: str, width: int, extra: dict[str, Any]) -> dict[str, Any]:
        sched = extra.get("scheduler")
        return {
            "mode": mode,
            "model": self.model_source,
            "lora": self.lora,
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "scheduler": scheduler_name_of(sched) if sched is not None else None,
            "decoder": self._decoder_used(),
            "width": width,
            "height": self.height,
            "spectrogram": {
                k: getattr(self.spectrogram_params, k)
                for k in self.spectrogram_params.__dataclass_fields__
            },
        }

    def _base_parameters(
        self,
        mode: str,
        *,
        prompt: str,
        negative_prompt: str | None,
        seed: int,
        steps: int,
        guidance: float,
        scheduler: Any,
        width: int,
    ) -> dict[str, Any]:
        params = self._common_parameters(mode, width, {"scheduler": scheduler})
        params.update(
            prompt=prompt,
            negative_prompt=negative_prompt,
            seed=int(seed),
            num_inference_steps=steps,
            guidance=float(guidance),
        )
        return params

    def _endpoint_parameters(
        self, mode: str, point: PromptInput, out: RiffgenOutput
    ) -> dict[str, Any]:
        params = self._base_parameters(
            mode,
            prompt=point.prompt,
            negative_prompt=point.negative_prompt,
            seed=point.seed,
            steps=out.parameters.get("num_inference_steps", 0),
            guidance=point.guidance,
            scheduler=out.parameters.get("scheduler"),
            width=out.image.width,
        )
        params["denoising"] = float(point.denoising)
        return params


def _endpoint_dict(point: PromptInput) -> dict[str, Any]:
    return {
        "prompt": point.prompt,
        "seed": int(point.seed),
        "negative_prompt": point.negative_prompt,
        "denoising": float(point.denoising),
        "guidance": float(point.guidance),
    }


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any mode -> RGB; transparent pixels count as white (silence)."""
    if not isinstance(image, Image.Image):
        raise RiffgenError(f"expected a PIL image, got {type(image).__name__}")
    if image.width < 1 or image.height < 1:
        raise RiffgenError(f"image is empty ({image.width}x{image.height})")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")
