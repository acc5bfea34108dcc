"""Single-file SD1.x checkpoints: export (riffgen.diffusion.export) and loading them back.

The debug model is not SD1.5-shaped, and the single-file loader configures the model with
SD1.5's configs, so the fast tests load it through diffusers' own converters and through
``RiffgenPipeline.from_pretrained`` with the debug configs put in place of the SD1.5 ones.
The slow test builds a full-size SD1.5-shaped model (random bf16 weights) and loads it from a
diffusers directory and from one file, checking the weights and the memory used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from riffgen.diffusion import RiffgenPipeline
from riffgen.diffusion.export import (
    original_tensors,
    save_single_file,
    unet_key_to_original,
    write_safetensors,
)
from riffgen.errors import RiffgenError
from riffgen.models import registry
from riffgen.models.configs import sd15_spec

COMPONENTS = ("unet", "vae", "text_encoder")


def _state(module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in module.state_dict().items() if not k.endswith("position_ids")}


def _assert_same_weights(expected, actual, *, dtype: torch.dtype | None = None) -> None:
    for name in COMPONENTS:
        want, got = _state(getattr(expected, name)), _state(getattr(actual, name))
        assert set(want) == set(got), name
        for key, tensor in want.items():
            if dtype is not None:  # exported in ``dtype``: compare with the rounded weights
                tensor = tensor.to(dtype).to(got[key].dtype)
            assert torch.equal(tensor, got[key]), f"{name}.{key}"


def _diffusers_conversion(checkpoint: dict, pipe) -> dict[str, dict[str, torch.Tensor]]:
    """The original-layout checkpoint back to diffusers keys with diffusers' own converters."""
    from diffusers.loaders.single_file_utils import (
        convert_ldm_clip_checkpoint,
        convert_ldm_unet_checkpoint,
        convert_ldm_vae_checkpoint,
    )

    text = convert_ldm_clip_checkpoint(checkpoint)
    if not any(k.startswith("text_model.") for k in _state(pipe.text_encoder)):
        text = {k.removeprefix("text_model."): v for k, v in text.items()}  # transformers >= 5.6
    return {
        "unet": convert_ldm_unet_checkpoint(checkpoint, dict(pipe.unet.config)),
        "vae": convert_ldm_vae_checkpoint(checkpoint, dict(pipe.vae.config)),
        "text_encoder": text,
    }


# ---------------------------------------------------------------------------- fast


def test_debug_model_round_trips_through_diffusers_converters(debug_pipeline, tmp_path):
    path = save_single_file(
        debug_pipeline.unet,
        debug_pipeline.vae,
        debug_pipeline.text_encoder,
        tmp_path / "m.safetensors",
    )
    checkpoint = load_file(path)
    prefixes = {k.split(".")[0] for k in checkpoint}
    assert prefixes == {"model", "first_stage_model", "cond_stage_model"}
    attn = [k for k in checkpoint if ".mid.attn_1." in k and k.endswith(("q.weight", "out.weight"))]
    assert attn and all(checkpoint[k].ndim == 4 for k in attn)  # 1x1 convs, as in LDM
    converted = _diffusers_conversion(checkpoint, debug_pipeline)
    for name in COMPONENTS:
        want = _state(getattr(debug_pipeline, name))
        assert set(converted[name]) == set(want), name
        for key, tensor in want.items():
            assert torch.equal(converted[name][key], tensor), f"{name}.{key}"


@pytest.fixture
def debug_configs_for_single_file(monkeypatch, debug_model_dir):
    """Make the single-file loader configure the model from the debug model's configs."""

    def write_debug_config(out_dir: Path) -> Path:
        src = Path(debug_model_dir)
        shutil.copy(src / "model_index.json", out_dir / "model_index.json")
        for sub in ("unet", "vae", "text_encoder", "scheduler", "tokenizer"):
            (out_dir / sub).mkdir(parents=True, exist_ok=True)
            for f in (src / sub).iterdir():
                if f.suffix in (".json", ".txt"):  # configs and vocabulary, no weights
                    shutil.copy(f, out_dir / sub / f.name)
        return out_dir

    monkeypatch.setattr(registry, "write_sd15_config", write_debug_config)


def test_debug_single_file_loads_through_riffgen_pipeline(
    debug_pipeline, debug_configs_for_single_file, tmp_path
):
    params = debug_pipeline.spectrogram_params
    path = save_single_file(
        debug_pipeline.unet,
        debug_pipeline.vae,
        debug_pipeline.text_encoder,
        tmp_path / "debug.safetensors",
        spectrogram=params,
    )
    assert (tmp_path / "debug.riffgen.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["debug.riffgen.json", "debug.safetensors"]
    pipe = RiffgenPipeline.from_pretrained(path, device="cpu", dtype="fp32")
    assert pipe.spectrogram_params == params  # from the sidecar
    _assert_same_weights(debug_pipeline, pipe)
    kwargs = {"seed": 3, "width": 64, "num_inference_steps": 2}
    a = debug_pipeline.text_to_audio("lofi beat", **kwargs)
    b = pipe.text_to_audio("lofi beat", **kwargs)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert np.array_equal(a.audio, b.audio)


def test_export_in_fp16_loads_rounded_weights(
    debug_pipeline, debug_configs_for_single_file, tmp_path
):
    path = save_single_file(
        debug_pipeline.unet,
        debug_pipeline.vae,
        debug_pipeline.text_encoder,
        tmp_path / "half.safetensors",
        dtype=torch.float16,
    )
    with safe_open(path, "pt") as f:
        assert f.metadata() == {"format": "pt"}
        names = f.keys()  # safe_open is not iterable
        assert {f.get_slice(k).get_dtype() for k in names} == {"F16"}
    pipe = RiffgenPipeline.from_pretrained(path, device="cpu", dtype="fp32")
    _assert_same_weights(debug_pipeline, pipe, dtype=torch.float16)


def _sd15_models_on_meta():
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    spec = sd15_spec()
    with init_empty_weights():
        unet = UNet2DConditionModel(**spec.unet)
        vae = AutoencoderKL(**spec.vae)
        text_encoder = CLIPTextModel(CLIPTextConfig(**spec.text))
    return SimpleNamespace(unet=unet, vae=vae, text_encoder=text_encoder)


# Keys and shapes of the original SD1.5 checkpoint (v1-5-pruned), one per kind of mapping.
SD15_ORIGINAL_KEYS = {
    "model.diffusion_model.time_embed.0.weight": (1280, 320),
    "model.diffusion_model.input_blocks.0.0.weight": (320, 4, 3, 3),
    "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 768),
    "model.diffusion_model.input_blocks.3.0.op.weight": (320, 320, 3, 3),
    "model.diffusion_model.input_blocks.4.0.skip_connection.weight": (640, 320, 1, 1),
    "model.diffusion_model.input_blocks.11.0.emb_layers.1.weight": (1280, 1280),
    "model.diffusion_model.middle_block.1.proj_in.weight": (1280, 1280, 1, 1),
    "model.diffusion_model.middle_block.2.out_layers.3.weight": (1280, 1280, 3, 3),
    "model.diffusion_model.output_blocks.2.1.conv.weight": (1280, 1280, 3, 3),
    "model.diffusion_model.output_blocks.5.2.conv.weight": (1280, 1280, 3, 3),
    "model.diffusion_model.output_blocks.8.2.conv.weight": (640, 640, 3, 3),
    "model.diffusion_model.output_blocks.11.0.skip_connection.weight": (320, 640, 1, 1),
    "model.diffusion_model.output_blocks.11.1.proj_out.weight": (320, 320, 1, 1),
    "model.diffusion_model.out.2.weight": (4, 320, 3, 3),
    "first_stage_model.encoder.down.1.block.0.nin_shortcut.weight": (256, 128, 1, 1),
    "first_stage_model.encoder.down.1.downsample.conv.weight": (256, 256, 3, 3),
    "first_stage_model.encoder.mid.attn_1.q.weight": (512, 512, 1, 1),
    "first_stage_model.encoder.norm_out.weight": (512,),
    "first_stage_model.decoder.mid.attn_1.proj_out.weight": (512, 512, 1, 1),
    "first_stage_model.decoder.mid.block_2.conv1.weight": (512, 512, 3, 3),
    "first_stage_model.decoder.up.0.block.0.nin_shortcut.weight": (128, 256, 1, 1),
    "first_stage_model.decoder.up.3.upsample.conv.weight": (512, 512, 3, 3),
    "first_stage_model.quant_conv.weight": (8, 8, 1, 1),
    "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight": (77, 768),
    "cond_stage_model.transformer.text_model.encoder.layers.11.mlp.fc2.weight": (768, 3072),
    "cond_stage_model.transformer.text_model.final_layer_norm.weight": (768,),
}


def test_sd15_shaped_model_maps_to_the_original_layout():
    """Keys and shapes only (weights on the meta device): fast at full size."""
    from diffusers.loaders.single_file_utils import infer_diffusers_model_type

    models = _sd15_models_on_meta()
    checkpoint = dict(original_tensors(models.unet, models.vae, models.text_encoder))
    counts = {p: sum(k.startswith(p) for k in checkpoint) for p in ("model.", "first_", "cond_")}
    # v1-5-pruned: 686 UNet, 248 VAE, 197 text-encoder tensors (ours leaves out position_ids).
    assert counts == {"model.": 686, "first_": 248, "cond_": 196}
    for key, shape in SD15_ORIGINAL_KEYS.items():
        assert tuple(checkpoint[key].shape) == shape, key
    assert infer_diffusers_model_type(checkpoint) == "v1"
    converted = _diffusers_conversion(checkpoint, models)
    for name in COMPONENTS:
        want = _state(getattr(models, name))
        assert {k: tuple(v.shape) for k, v in converted[name].items()} == {
            k: tuple(v.shape) for k, v in want.items()
        }, name


def test_export_refuses_keys_sd_checkpoints_do_not_have(debug_pipeline, tmp_path):
    with pytest.raises(KeyError):
        unet_key_to_original(
            "add_embedding.linear_1.weight", layers_per_block=2, up_has_attention=[False] * 4
        )
    unet = SimpleNamespace(
        config=debug_pipeline.unet.config,
        state_dict=lambda: {"conv_in.lora_A.weight": torch.zeros(2, 2)},
    )
    with pytest.raises(RiffgenError, match="lora_A"):
        save_single_file(
            unet, debug_pipeline.vae, debug_pipeline.text_encoder, tmp_path / "x.safetensors"
        )
    with pytest.raises(RiffgenError, match=r"\.safetensors"):
        save_single_file(
            debug_pipeline.unet,
            debug_pipeline.vae,
            debug_pipeline.text_encoder,
            tmp_path / "x.ckpt",
        )
    assert list(tmp_path.iterdir()) == []  # nothing partial left behind


def test_write_safetensors_streams_every_dtype(tmp_path):
    tensors = {
        "a": torch.randn(3, 5, dtype=torch.float32),
        "b": torch.randn(4, dtype=torch.bfloat16),
        "c": torch.arange(6, dtype=torch.int64).reshape(2, 3).t(),  # not contiguous
        "d": torch.tensor(2.5),  # 0-d
        "e": torch.zeros(0, 4),  # empty
    }
    path = write_safetensors(tmp_path / "t.safetensors", tensors.items(), dtype=torch.float16)
    back = load_file(path)
    assert set(back) == set(tensors)
    for key, tensor in tensors.items():
        want = tensor.half() if tensor.is_floating_point() else tensor
        assert back[key].dtype == want.dtype and torch.equal(back[key], want), key
    with pytest.raises(RiffgenError, match="same key"):
        write_safetensors(tmp_path / "u.safetensors", [("a", tensors["a"]), ("a", tensors["b"])])


# ---------------------------------------------------------------------------- slow, full size

SD15_PARAMETERS = {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480}

# A handful of keys per component, chosen to cover every kind of renaming and reshaping.
SPOT_KEYS = {
    "unet": [
        "conv_in.weight",
        "time_embedding.linear_2.bias",
        "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight",
        "down_blocks.2.downsamplers.0.conv.weight",
        "mid_block.attentions.0.proj_in.weight",
        "mid_block.resnets.1.time_emb_proj.weight",
        "up_blocks.0.upsamplers.0.conv.bias",
        "up_blocks.2.upsamplers.0.conv.weight",
        "up_blocks.3.resnets.2.conv_shortcut.weight",
        "conv_out.weight",
    ],
    "vae": [
        "encoder.down_blocks.1.resnets.0.conv_shortcut.weight",
        "encoder.mid_block.attentions.0.to_q.weight",
        "decoder.mid_block.attentions.0.to_out.0.weight",
        "decoder.mid_block.attentions.0.group_norm.bias",
        "decoder.up_blocks.0.upsamplers.0.conv.weight",
        "decoder.up_blocks.3.resnets.0.conv_shortcut.weight",
        "quant_conv.weight",
    ],
    "text_encoder": [
        "embeddings.token_embedding.weight",
        "encoder.layers.0.self_attn.q_proj.bias",
        "encoder.layers.11.mlp.fc1.weight",
        "final_layer_norm.weight",
    ],
}

# Runs in a fresh interpreter so its peak RSS is the load's own. The weights are touched
# (hashed) after loading: the loaders map the files, so untouched weights are not resident.
LOAD_AND_MEASURE = textwrap.dedent(
    """
    import hashlib, json, sys
    from pathlib import Path
    import torch
    from diffusers import StableDiffusionPipeline  # import everything before the baseline
    from transformers import CLIPTextModel
    from safetensors.torch import save_file
    from riffgen.diffusion import RiffgenPipeline
    import riffgen.diffusion.pipeline

    def status(field):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        pass  # VmHWM then includes the import peak: the increase below is an upper bound
    before = status("VmRSS")
    source, spots_path, spot_keys = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    pipe = RiffgenPipeline.from_pretrained(source, device="cpu", dtype="bf16")
    peak_load = status("VmHWM")
    hashes, counts, spots = {}, {}, {}
    for name in ("unet", "vae", "text_encoder"):
        module = getattr(pipe, name)
        state = module.state_dict()
        counts[name] = sum(p.numel() for p in module.parameters())
        for key, t in state.items():
            if not key.endswith("position_ids"):
                raw = t.contiguous().view(torch.uint8).numpy()
                hashes[f"{name}.{key}"] = [str(t.dtype), list(t.shape), hashlib.sha1(raw).hexdigest()]
        for key in spot_keys[name]:
            spots[f"{name}.{key}"] = state[key].clone()
    save_file(spots, spots_path)
    print(json.dumps({
        "before": before,
        "peak_load": peak_load,
        "peak_touched": status("VmHWM"),
        "counts": counts,
        "hashes": hashes,
        "vocab": len(pipe.tokenizer),
        "source": pipe.model_source,
    }))
    """
)


def _random_sd15_models(*, seed: int):
    """Full-size SD1.5-shaped UNet, VAE, CLIP text encoder with seeded random bf16 weights.

    Built on the meta device and filled tensor by tensor: no fp32 copy, no slow init.
    """
    models = _sd15_models_on_meta()
    gen = torch.Generator().manual_seed(seed)
    for name in COMPONENTS:
        module = getattr(models, name)
        for key, param in list(module.named_parameters()):
            owner, _, leaf = key.rpartition(".")
            value = torch.empty(param.shape, dtype=torch.bfloat16).normal_(0.0, 0.02, generator=gen)
            module.get_submodule(owner)._parameters[leaf] = torch.nn.Parameter(
                value, requires_grad=False
            )
    return models


def _load_in_subprocess(source: Path, spots: Path) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_AND_MEASURE, str(source), str(spots), json.dumps(SPOT_KEYS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_sd15_size_model_loads_from_directory_and_single_file(tmp_path):
    models = _random_sd15_models(seed=1234)
    directory = registry.write_sd15_config(tmp_path / "sd15")  # configs + riffgen's CLIP vocab
    for name in COMPONENTS:
        getattr(models, name).save_pretrained(directory / name)
    single = save_single_file(
        models.unet, models.vae, models.text_encoder, tmp_path / "sd15.safetensors"
    )
    expected = {}
    weight_bytes = 0
    for name in COMPONENTS:
        for key, t in _state(getattr(models, name)).items():
            raw = t.contiguous().view(torch.uint8).numpy()
            expected[f"{name}.{key}"] = [str(t.dtype), list(t.shape), hashlib.sha1(raw).hexdigest()]
            weight_bytes += raw.nbytes
    assert single.stat().st_size == pytest.approx(weight_bytes, rel=0.001)

    for source in (directory, single):
        spots_path = tmp_path / f"spots-{source.name}.safetensors"
        result = _load_in_subprocess(source, spots_path)
        assert result["source"] == str(source) and result["vocab"] == 49408
        assert result["counts"] == SD15_PARAMETERS
        assert result["hashes"] == expected  # every tensor, bit for bit
        spots = load_file(spots_path)
        for name, keys in SPOT_KEYS.items():
            state = getattr(models, name).state_dict()
            for key in keys:
                assert torch.equal(spots[f"{name}.{key}"], state[key]), f"{name}.{key}"
        increase = result["peak_touched"] - result["before"]
        print(
            f"{source.name}: weights {weight_bytes / 2**30:.2f} GiB, peak RSS increase "
            f"{(result['peak_load'] - result['before']) / 2**30:.2f} GiB after loading, "
            f"{increase / 2**30:.2f} GiB with every weight read"
        )
        assert increase < 1.5 * weight_bytes  # one copy of the weights, not two
