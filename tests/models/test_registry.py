"""The model registry: sources, device/dtype choice, LoRA, the known shapes, the folder format."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from riffgen.diffusion import RiffgenPipeline
from riffgen.errors import RiffgenError
from riffgen.models import devices, registry


def test_missing_hub_model_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    with pytest.raises(RiffgenError) as info:
        registry.load_components("riffusion/riffusion-model-v1", dtype=torch.float32)
    msg = str(info.value)
    assert "riffusion/riffusion-model-v1" in msg and "\n" not in msg
    assert "local diffusers directory" in msg and ".safetensors" in msg


@pytest.mark.parametrize("path", ["/no/such/dir", "./missing.safetensors", "weights.ckpt"])
def test_missing_local_model(path):
    with pytest.raises(RiffgenError, match="model not found"):
        registry.classify(path)


def test_directory_without_model(tmp_path):
    with pytest.raises(RiffgenError, match="not a diffusers model directory"):
        registry.classify(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(RiffgenError, match="not a checkpoint"):
        registry.classify(tmp_path / "notes.txt")


def test_classify(debug_model_dir):
    assert registry.classify(debug_model_dir) == "directory"
    assert registry.classify("riffusion/riffusion-model-v1") == "hub"


def test_dtype_and_device_resolution(monkeypatch):
    cpu = torch.device("cpu")
    assert devices.resolve_device("cpu") == cpu
    assert devices.resolve_dtype("fp32", cpu) == torch.float32
    assert devices.resolve_dtype("bf16", cpu) == torch.bfloat16
    assert devices.resolve_dtype(torch.float16, cpu) == torch.float16
    assert devices.resolve_dtype(None, torch.device("cuda")) == torch.float16
    monkeypatch.setattr(devices, "cpu_supports_bf16", lambda: True)
    assert devices.resolve_dtype(None, cpu) == torch.bfloat16
    monkeypatch.setattr(devices, "cpu_supports_bf16", lambda: False)
    assert devices.resolve_dtype("auto", cpu) == torch.float32
    with pytest.raises(RiffgenError, match="dtype"):
        devices.resolve_dtype("int8", cpu)
    with pytest.raises(RiffgenError, match="device"):
        devices.resolve_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(RiffgenError, match="CUDA"):
            devices.resolve_device("cuda")


def test_bf16_load(debug_model_dir):
    pipe = RiffgenPipeline.from_pretrained(debug_model_dir, device="cpu", dtype="bf16")
    assert {p.dtype for p in pipe.unet.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in pipe.text_encoder.parameters()} == {torch.bfloat16}
    out = pipe.text_to_audio("x", width=64, num_inference_steps=2)
    assert np.isfinite(out.audio).all() and out.parameters["dtype"] == "bfloat16"


def _save_random_lora(model_dir, out_dir) -> None:
    """A LoRA saved exactly as diffusers training scripts do (save_lora_weights)."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(model_dir, subfolder="unet")
    unet.add_adapter(
        LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    )
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in unet.named_parameters():
            if "lora_B" in name:  # B starts at zero; make the adapter do something
                param.normal_(0, 0.5)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionPipeline.save_lora_weights(out_dir, unet_lora_layers=layers)


def test_lora_loads_into_unet(debug_model_dir, debug_pipeline, tmp_path):
    _save_random_lora(debug_model_dir, tmp_path)
    assert (tmp_path / "pytorch_lora_weights.safetensors").is_file()
    tuned = RiffgenPipeline.from_pretrained(
        debug_model_dir, device="cpu", dtype="fp32", lora=tmp_path
    )
    kw = dict(seed=1, width=64, num_inference_steps=2)
    base = np.asarray(debug_pipeline.text_to_audio("x", **kw).image, dtype=float)
    new = np.asarray(tuned.text_to_audio("x", **kw).image, dtype=float)
    assert np.abs(base - new).mean() > 1.0
    assert tuned.text_to_audio("x", **kw).parameters["lora"] == str(tmp_path)
    with pytest.raises(RiffgenError, match="LoRA"):
        RiffgenPipeline.from_pretrained(
            debug_model_dir, device="cpu", dtype="fp32", lora=tmp_path / "nope"
        )
