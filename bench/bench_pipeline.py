"""RiffgenPipeline against plain diffusers, and fp32 against bf16 for one SD1.5 UNet step.

    .venv/bin/python bench/bench_pipeline.py            # both parts, CPU (~4 min on 2 idle cores)
    .venv/bin/python bench/bench_pipeline.py --quick    # fewer runs, shrunken part (b) (~1 min)
    .venv/bin/python bench/bench_pipeline.py --device cuda

(a) Overhead. ``RiffgenPipeline.audio_to_audio`` (img2img) and diffusers'
``StableDiffusionImg2ImgPipeline`` are built from the very same module objects (UNet, VAE,
CLIP text encoder, tokenizer) and the same PNDM scheduler config, and run with the same
prompt, seed, steps, strength, guidance and init image. The model is a "mid-size" random
SD-shaped one (UNet 64/128/256/256 channels, 2 layers per block, 35 M parameters; VAE
32/64/128/128, 1 layer per block; CLIP text encoder 256 wide, 3 layers; 128x256 px images,
16x32 latents). The sizes keep SD1.5's proportions: the UNet takes about 90% of a run and a
text-encoder call costs a few percent of a UNet call, as for riffusion-model-v1 at 512x512.
Each pipeline is warmed up once, then both run alternately (order swapped every round). The
overhead is riffgen's time over diffusers' minus 1, three ways: fastest wall times, median
process CPU times and the median of per-round wall-time ratios. On a shared machine the CPU
time is the robust one; it runs on one CPU thread by default (``--threads``) because with
several, threads spinning while waiting for a descheduled sibling inflate CPU time as well.

Riffgen also turns the image into audio, which diffusers does not do: during the comparison
that step is replaced by a stub (in this process only) and timed separately. Riffgen's prompt
embedding cache is cleared before every run so both pipelines encode the prompt each time.

Agreement: the timed runs draw the VAE posterior noise differently (riffgen: its own seeded
CPU draw; diffusers: the first draw of the shared generator), so agreement is checked in a
separate run where diffusers gets riffgen's init latents (diffusers accepts 4-channel latents
as ``image``) and a generator whose first draw is riffgen's noise.

(b) fp32 against bf16: one forward pass of a full-size SD1.5 UNet (random weights, batch 2 for
classifier-free guidance, 64x64 latents, 77x768 text embeddings), alternating fp32 and bf16.
``--quick`` shrinks it to a small UNet of the same layout (exercises the code path only).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

if TYPE_CHECKING:
    from riffgen.models.configs import ModelSpec

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # torchvision-fallback notices
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")  # "keep modules in float32" on .to(bf16)

PROMPT = "funky synth solo, 120 bpm"
SEED = 42


@dataclass(frozen=True)
class MidModelConfig:
    """Sizes of the mid-size model of part (a): image height = mel count, width in px."""

    mels: int = 128
    width: int = 256
    unet_channels: tuple[int, ...] = (64, 128, 256, 256)
    unet_layers: int = 2
    vae_channels: tuple[int, ...] = (32, 64, 128, 128)
    vae_layers: int = 1
    text_hidden: int = 256
    text_layers: int = 3
    text_heads: int = 4


# ---------------------------------------------------------------------------- helpers


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Timings:
    """Wall-clock and process CPU seconds (all threads) of repeated runs.

    On a shared machine other processes stretch wall time, by up to several times here; the
    CPU time this process spends is much less affected, and the fastest wall time is the run
    least disturbed. Both are reported.
    """

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def describe(self) -> str:
        w, c = self.wall, self.cpu
        return (
            f"wall min {min(w):.3f} / median {statistics.median(w):.3f} / max {max(w):.3f} s,"
            f" CPU min {min(c):.3f} / median {statistics.median(c):.3f} s (n={len(w)})"
        )


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[float, float, Any]:
    """(wall s, process CPU s, result) of one call, the device drained before and after."""
    _sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    _sync(device)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def alternate(
    fns: dict[str, Callable[[], Any]], *, runs: int, device: torch.device
) -> dict[str, Timings]:
    """Warm each function up once, then ``runs`` rounds calling all, order reversed every
    other round (drifting machine load then hits both alike)."""
    for fn in fns.values():
        timed(fn, device)
    times = {name: Timings() for name in fns}
    names = list(fns)
    for i in range(runs):
        for name in names if i % 2 == 0 else names[::-1]:
            wall, cpu, _ = timed(fns[name], device)
            times[name].wall.append(wall)
            times[name].cpu.append(cpu)
    return times


def ratios(a: Timings, b: Timings) -> dict[str, float]:
    """a/b by fastest wall time, by median CPU time and as the median of per-round ratios."""
    return {
        "min_wall": min(a.wall) / min(b.wall),
        "median_cpu": statistics.median(a.cpu) / statistics.median(b.cpu),
        "paired_wall": statistics.median(x / y for x, y in zip(a.wall, b.wall, strict=True)),
    }


def _params_m(module: torch.nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


# ---------------------------------------------------------------------------- (a) overhead


def mid_spec(cfg: MidModelConfig) -> ModelSpec:
    """The mid-size model as a :class:`riffgen.models.ModelSpec`: the debug shape with the
    sizes of ``cfg`` (2 UNet layers per block, 32 norm groups and 4x-wide text MLPs, as SD1.5)."""
    from riffgen.audio import SpectrogramParams
    from riffgen.models.configs import DebugModelConfig, debug_spec

    spec = debug_spec(
        DebugModelConfig(
            unet_channels=cfg.unet_channels,
            vae_channels=cfg.vae_channels,
            text_hidden=cfg.text_hidden,
            text_layers=cfg.text_layers,
            cross_attention_dim=cfg.text_hidden,
        ),
        spectrogram=SpectrogramParams(num_frequencies=cfg.mels),
    )
    assert spec.text is not None
    return replace(
        spec,
        name="mid",
        unet={**spec.unet, "layers_per_block": cfg.unet_layers, "norm_num_groups": 32},
        vae={**spec.vae, "layers_per_block": cfg.vae_layers, "norm_num_groups": 32},
        text={
            **spec.text,
            "intermediate_size": cfg.text_hidden * 4,
            "num_attention_heads": cfg.text_heads,
        },
    )


def init_image(cfg: MidModelConfig) -> Image.Image:
    """A packaged seed spectrogram, resized to the model's mel count, first ``width`` px."""
    path = resources.files("riffgen") / "data" / "seed_images" / "marimba_100.png"
    with Image.open(str(path)) as im:
        image = im.convert("RGB")
    image = image.resize((image.width, cfg.mels), resample=Image.LANCZOS)
    return image.crop((0, 0, cfg.width, cfg.mels))


@contextlib.contextmanager
def audio_decode_stubbed() -> Iterator[None]:
    """Replace the pipeline's image -> audio step with silence of the right length."""
    from riffgen.diffusion import pipeline as pipeline_module

    real = pipeline_module.image_to_audio

    def stub(image, params, **_kwargs):
        n = (image.width - 1) * params.hop_length
        return np.zeros((1, n), dtype=np.float32), params.sample_rate

    pipeline_module.image_to_audio = stub
    try:
        yield
    finally:
        pipeline_module.image_to_audio = real


def bench_overhead(*, device: torch.device, runs: int, steps: int) -> dict[str, Any]:
    from diffusers import PNDMScheduler, StableDiffusionImg2ImgPipeline

    from riffgen.audio import image_to_audio
    from riffgen.diffusion import RiffgenPipeline
    from riffgen.models.registry import build_components

    cfg = MidModelConfig()
    strength, guidance = 0.75, 7.0
    parts = build_components(mid_spec(cfg), seed=0)
    params = parts.spectrogram_params
    riff = RiffgenPipeline.from_components(parts, device=device)
    diff = StableDiffusionImg2ImgPipeline(
        vae=parts.vae,
        text_encoder=parts.text_encoder,
        tokenizer=parts.tokenizer,
        unet=parts.unet,
        scheduler=PNDMScheduler.from_config(parts.scheduler.config),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    diff.set_progress_bar_config(disable=True)
    image = init_image(cfg)
    unet_calls = min(int(steps * strength), steps) + 1  # PNDM (skip_prk) runs one extra step
    print(
        f"model: UNet {_params_m(parts.unet):.1f} M params {cfg.unet_channels},"
        f" VAE {_params_m(parts.vae):.1f} M {cfg.vae_channels},"
        f" CLIP text {_params_m(parts.text_encoder):.1f} M ({cfg.text_layers} layers"
        f" x {cfg.text_hidden}); image {cfg.width}x{cfg.mels} px, latents"
        f" {cfg.mels // 8}x{cfg.width // 8}"
    )
    print(
        f"run: img2img '{PROMPT}', seed {SEED}, {steps} steps (PNDM, {unet_calls} UNet calls"
        f" x batch 2), strength {strength}, guidance {guidance}, fp32, {device}"
    )

    def run_riffgen() -> Image.Image:
        riff._embed_cache.clear()  # the cache would skip the text encoder on repeat prompts
        out = riff.audio_to_audio(
            PROMPT,
            init_image=image,
            denoising=strength,
            seed=SEED,
            num_inference_steps=steps,
            guidance=guidance,
        )
        return out.image

    def run_diffusers(img: Any = image) -> Any:
        return diff(
            prompt=PROMPT,
            image=img,
            strength=strength,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=torch.Generator("cpu").manual_seed(SEED),
            output_type="pil",
        ).images[0]

    # Share of the UNet in one run: time one UNet call at the run's shapes.
    with torch.inference_mode():
        latents = torch.randn(2, 4, cfg.mels // 8, cfg.width // 8, device=device)
        context = torch.randn(2, 77, cfg.text_hidden, device=device)
        t = torch.tensor(500, device=device)

        def unet_call():
            return parts.unet(latents, t, encoder_hidden_states=context).sample

        unet_s = min(alternate({"unet": unet_call}, runs=3, device=device)["unet"].wall)

    with audio_decode_stubbed():
        times = alternate(
            {"riffgen": run_riffgen, "diffusers": run_diffusers}, runs=runs, device=device
        )
        # Agreement: diffusers gets riffgen's init latents and riffgen's noise as first draw.
        with torch.inference_mode():
            shape = (1, 4, cfg.mels // 8, cfg.width // 8)
            eps = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(SEED))
            init_latents = riff.encode_image(image, eps)
        ours = np.asarray(run_riffgen(), dtype=np.int16)
        theirs = np.asarray(run_diffusers(init_latents), dtype=np.int16)
    max_diff = int(np.abs(ours - theirs).max())
    mean_diff = float(np.abs(ours - theirs).mean())

    # Text encoding, the one step where the two do different amounts of work: riffgen's
    # img2img encodes prompt and negative prompt of both interpolation endpoints.
    with torch.inference_mode():
        enc = alternate(
            {
                "riffgen": lambda: (
                    riff._embed_cache.clear(),
                    riff._encode([PROMPT, PROMPT, "", ""]),
                ),
                "diffusers": lambda: diff.encode_prompt(PROMPT, device, 1, True),
            },
            runs=3,
            device=device,
        )
    enc_r, enc_d = min(enc["riffgen"].wall), min(enc["diffusers"].wall)
    decode_s = [
        timed(lambda: image_to_audio(image, params, seed=SEED, device=device), device)[0]
        for _ in range(3)
    ]
    r, d = times["riffgen"], times["diffusers"]
    over = {k: 100.0 * (v - 1.0) for k, v in ratios(r, d).items()}
    unet_share = 100.0 * unet_calls * unet_s / min(d.wall)
    print(f"  UNet call (batch 2):         fastest {unet_s:.3f} s ->"
          f" {unet_calls} calls = {unet_share:.0f}% of the fastest diffusers run")  # fmt: skip
    print(f"  diffusers img2img:           {d.describe()}")
    print(f"  riffgen audio_to_audio:      {r.describe()}  (audio decode stubbed)")
    print(
        f"  riffgen overhead:            {over['min_wall']:+.1f}% (fastest wall times),"
        f" {over['median_cpu']:+.1f}% (median CPU times), {over['paired_wall']:+.1f}%"
        " (median of per-round wall ratios); target <= 5%"
    )
    print(
        f"  output agreement:            max |diff| {max_diff} of 255 levels,"
        f" mean {mean_diff:.4f} (same init latents and noise)"
    )
    print(
        f"  text encoding per run:       riffgen {enc_r:.3f} s (4 encoder calls) vs diffusers"
        f" {enc_d:.3f} s (2 calls): {100 * (enc_r - enc_d) / min(d.wall):+.1f}% of the"
        " fastest diffusers run"
    )
    print(
        f"  riffgen image -> audio:      median {statistics.median(decode_s):.3f} s for"
        f" {(cfg.width - 1) * params.hop_length / params.sample_rate:.2f} s of audio"
        f" (extra work diffusers does not do; {params.num_griffin_lim_iters} iterations)"
    )
    return {
        "riffgen": r,
        "diffusers": d,
        "overhead_pct": over,
        "max_abs_diff_levels": max_diff,
        "unet_share_pct": unet_share,
        "audio_decode_s": statistics.median(decode_s),
        "text_encoding_s": {"riffgen": enc_r, "diffusers": enc_d},
    }


# ---------------------------------------------------------------------------- (b) dtypes


def bench_dtypes(*, device: torch.device, runs: int, quick: bool) -> dict[str, Any]:
    """fp32 vs bf16, one UNet forward at SD1.5 shapes (``quick``: a small UNet, 16x16)."""
    from diffusers import UNet2DConditionModel

    from riffgen.models.configs import sd15_spec

    spec = sd15_spec()
    if quick:  # same layout, narrower and 16x16 latents
        spec = replace(
            spec,
            unet={
                **spec.unet,
                "block_out_channels": [32, 64, 128, 128],
                "cross_attention_dim": 64,
                "sample_size": 16,
            },
        )
    size, text_dim = spec.unet["sample_size"], spec.unet["cross_attention_dim"]
    torch.manual_seed(0)
    started = time.perf_counter()
    unet32 = UNet2DConditionModel(**spec.unet).eval().to(device)  # the UNet alone
    unet16 = copy.deepcopy(unet32).to(torch.bfloat16)
    built_s = time.perf_counter() - started
    label = "small UNet (--quick)" if quick else "SD1.5 UNet"
    print(
        f"{label}: {_params_m(unet32):.0f} M params (built in {built_s:.0f} s), batch 2,"
        f" {size}x{size} latents, 77x{text_dim} text, {device},"
        f" torch threads: {torch.get_num_threads()}"
    )
    x = torch.randn(2, 4, size, size, device=device)
    ctx = torch.randn(2, 77, text_dim, device=device)
    t = torch.tensor(500, device=device)
    outputs: dict[str, torch.Tensor] = {}

    def forward(unet: Any, dtype: torch.dtype) -> Callable[[], None]:
        def call() -> None:
            with torch.inference_mode():
                out = unet(x.to(dtype), t, encoder_hidden_states=ctx.to(dtype)).sample
            outputs[str(dtype)] = out.float()

        return call

    times = alternate(
        {"fp32": forward(unet32, torch.float32), "bf16": forward(unet16, torch.bfloat16)},
        runs=runs,
        device=device,
    )
    ref, low = outputs["torch.float32"], outputs["torch.bfloat16"]
    rel = float((ref - low).abs().max() / ref.abs().max())
    ratio = ratios(times["fp32"], times["bf16"])
    print(f"  fp32: {times['fp32'].describe()}")
    print(f"  bf16: {times['bf16'].describe()}")
    print(
        f"  fp32 / bf16 time: {ratio['min_wall']:.2f}x (fastest wall times),"
        f" {ratio['median_cpu']:.2f}x (median CPU times), {ratio['paired_wall']:.2f}x (median of"
        f" per-round wall ratios); bf16 max |diff| / max |fp32| = {rel:.3f}"
    )
    return {"fp32": times["fp32"], "bf16": times["bf16"], "ratio": ratio}


# ---------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--quick", action="store_true", help="fewer runs, shrunken part (b)")
    parser.add_argument("--runs", type=int, default=None, help="timed rounds (default 7, quick 3)")
    parser.add_argument("--steps", type=int, default=None, help="steps (default 20, quick 10)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: with several, threads waiting for each other on a"
        " loaded machine inflate CPU time too)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from riffgen.models.devices import cpu_supports_bf16, resolve_device

    device = resolve_device(args.device)
    runs = args.runs or (3 if args.quick else 7)
    steps = args.steps or (10 if args.quick else 20)
    import diffusers
    import transformers

    print(
        f"torch {torch.__version__}, diffusers {diffusers.__version__}, transformers"
        f" {transformers.__version__}; torch threads: {torch.get_num_threads()}, load average"
        f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; CPU bf16 support:"
        f" {cpu_supports_bf16()}"
    )
    print("\n(a) riffgen pipeline overhead against diffusers StableDiffusionImg2ImgPipeline")
    bench_overhead(device=device, runs=runs, steps=steps)
    print("\n(b) one UNet step, fp32 against bf16")
    bench_dtypes(device=device, runs=1 if args.quick else 3, quick=args.quick)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
