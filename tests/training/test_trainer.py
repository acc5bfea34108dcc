"""riffgen train on the debug model: learning, saving in loadable layouts, LoRA, resume, EMA."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file

from riffgen.cli import main
from riffgen.training.config import TrainConfig
from riffgen.training.trainer import Trainer, train


def tone(seconds: float, *, freq: float, sr: int = 44100) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# Spectrogram parameters of the debug model (64 mel rows); 0.64 s clips -> 64x64 images.
CLIP_SECONDS = 0.64


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four clips a tiny model can overfit: two tones, two captions."""
    from riffgen.models.configs import DEBUG_SPECTROGRAM
    from riffgen.training.prepare import PrepareConfig, prepare_dataset

    root = tmp_path_factory.mktemp("tiny")
    audio = root / "audio"
    (audio / "low").mkdir(parents=True)
    (audio / "high").mkdir()
    sf.write(audio / "low" / "hum.wav", tone(1.3, freq=150, sr=44100), 44100)
    sf.write(audio / "high" / "whistle.wav", tone(1.3, freq=2000, sr=44100), 44100)
    config = PrepareConfig(clip_seconds=CLIP_SECONDS, params=DEBUG_SPECTROGRAM, progress=False)
    summary = prepare_dataset(audio, root / "ds", config)
    assert summary.total_clips == 4
    return root / "ds"


def config_for(dataset: Path, base: Path, out: Path, **changes) -> TrainConfig:
    settings = {
        "dataset": str(dataset),
        "base": str(base),
        "output_dir": str(out),
        "max_steps": 10,
        "batch_size": 2,
        "learning_rate": 1e-3,
        "checkpoint_every": 0,
        "log_every": 0,
        "device": "cpu",
        "progress": False,
    }
    settings.update(changes)
    return TrainConfig.from_dict(settings)


def unet_weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(model_dir / "unet" / "diffusion_pytorch_model.safetensors")


def test_full_finetune_learns_and_loads(
    tiny_dataset: Path, debug_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "full"
    config = config_for(tiny_dataset, debug_model_dir, out, max_steps=80, probe_every=80)
    result = train(config)
    # Training loss (random noise and timesteps) falls, and so does the fixed-noise probe.
    first, last = np.mean(result.losses[:10]), np.mean(result.losses[-10:])
    assert last < 0.8 * first, (first, last)
    (_, probe_start), (_, probe_end) = result.probe_losses
    assert probe_end < 0.7 * probe_start, result.probe_losses
    assert result.steps == 80 and result.steps_per_second > 0

    # A complete model folder: new UNet, base's other parts, spectrogram params, settings.
    base_unet, new_unet = unet_weights(debug_model_dir), unet_weights(out)
    assert base_unet.keys() == new_unet.keys()
    assert any(not torch.equal(base_unet[k], new_unet[k]) for k in base_unet)
    assert json.loads((out / "riffgen.json").read_text()) == json.loads(
        (debug_model_dir / "riffgen.json").read_text()
    )
    assert TrainConfig.load(out / "train_config.toml") == config

    # It loads with --model OUT_DIR and generates.
    wav = tmp_path / "gen.wav"
    capsys.readouterr()
    args = ["generate", "low, hum", "-o", str(wav), "--model", str(out), "--steps", "3"]
    assert main([*args, "--width", "64", "--device", "cpu", "--dtype", "fp32", "-q"]) == 0
    audio, sr = sf.read(wav)
    assert sr == 44100 and len(audio) == 63 * 441 and np.isfinite(audio).all()
    assert np.abs(audio).max() > 0.1


def test_lora_weights_are_diffusers_format_and_change_output(
    tiny_dataset: Path, debug_model_dir: Path, debug_pipeline, tmp_path: Path
) -> None:
    from diffusers import StableDiffusionPipeline

    from riffgen.diffusion import RiffgenPipeline

    out = tmp_path / "lora"
    config = config_for(
        tiny_dataset, debug_model_dir, out, lora_rank=4, max_steps=15, learning_rate=1e-2
    )
    result = train(config)
    assert result.mode == "lora" and not (out / "unet").exists()
    weights = load_file(out / "pytorch_lora_weights.safetensors")
    assert weights and all(k.startswith("unet.") for k in weights)
    assert any(k.endswith("to_q.lora.down.weight") for k in weights)
    assert all(w.shape[0] == 4 or w.shape[1] == 4 for w in weights.values())
    # diffusers itself loads it as a LoRA.
    pipe = StableDiffusionPipeline.from_pretrained(
        debug_model_dir, safety_checker=None, requires_safety_checker=False
    )
    pipe.load_lora_weights(out)
    assert pipe.get_active_adapters()

    # riffgen's pipeline with --lora renders something different from the base model.
    tuned = RiffgenPipeline.from_pretrained(debug_model_dir, lora=out, device="cpu", dtype="fp32")
    kwargs = {"seed": 3, "num_inference_steps": 3, "width": 64}
    before = np.asarray(debug_pipeline.text_to_audio("high, whistle", **kwargs).image, float)
    after = np.asarray(tuned.text_to_audio("high, whistle", **kwargs).image, float)
    assert np.abs(before - after).mean() > 1.0


@pytest.mark.parametrize("lora_rank", [0, 2])
def test_resume_continues_exactly(
    tiny_dataset: Path, debug_model_dir: Path, tmp_path: Path, lora_rank: int
) -> None:
    straight = config_for(
        tiny_dataset,
        debug_model_dir,
        tmp_path / "a",
        max_steps=6,
        checkpoint_every=3,
        lora_rank=lora_rank,
        gradient_accumulation_steps=2,
        caption_dropout=0.3,
    )
    full_run = train(straight)
    checkpoints = sorted(p.name for p in (tmp_path / "a" / "checkpoints").iterdir())
    assert checkpoints == ["checkpoint-3", "checkpoint-6"]
    state = json.loads((tmp_path / "a/checkpoints/checkpoint-3/trainer_state.json").read_text())
    assert state["step"] == 3
    if lora_rank:  # LoRA checkpoints hold the adapter, not a copy of the UNet
        assert not list((tmp_path / "a/checkpoints/checkpoint-3").glob("model*.safetensors"))

    # Stop at 3 in another folder, then resume from the first run's step-3 checkpoint.
    resumed = TrainConfig.from_dict(
        {
            **straight.to_dict(),
            "output_dir": str(tmp_path / "b"),
            "resume": str(tmp_path / "a/checkpoints/checkpoint-3"),
        }
    )
    trainer = Trainer(resumed)
    second = trainer.run()
    assert second.start_step == 3 and second.steps == 6 and len(second.losses) == 3
    np.testing.assert_allclose(second.losses, full_run.losses[3:], rtol=1e-4)
    step_counts = {int(s["step"]) for s in trainer.optimizer.optimizer.state.values()}
    assert step_counts == {6}  # Adam's state came back with the checkpoint
    name = (
        "pytorch_lora_weights.safetensors"
        if lora_rank
        else "unet/diffusion_pytorch_model.safetensors"
    )
    a, b = load_file(tmp_path / "a" / name), load_file(tmp_path / "b" / name)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)


def test_resume_latest_and_mismatch(
    tiny_dataset: Path, debug_model_dir: Path, tmp_path: Path
) -> None:
    from riffgen.errors import RiffgenError

    out = tmp_path / "run"
    train(config_for(tiny_dataset, debug_model_dir, out, max_steps=2, checkpoint_every=2))
    more = train(config_for(tiny_dataset, debug_model_dir, out, max_steps=4, resume="latest"))
    assert (more.start_step, more.steps) == (2, 4)
    with pytest.raises(RiffgenError, match="full run"):
        train(
            config_for(
                tiny_dataset, debug_model_dir, out, max_steps=4, resume="latest", lora_rank=2
            )
        )
    fresh = train(
        config_for(tiny_dataset, debug_model_dir, tmp_path / "new", max_steps=1, resume="latest")
    )
    assert fresh.start_step == 0


def test_ema_output_and_validation(
    tiny_dataset: Path, debug_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ema"
    config = config_for(
        tiny_dataset,
        debug_model_dir,
        out,
        max_steps=4,
        ema=True,
        ema_decay=0.5,
        validation_prompts=["low, hum"],
        validation_every=2,
        validation_steps=2,
    )
    trainer = Trainer(config)
    result = trainer.run()
    saved = unet_weights(out)
    live = dict(trainer.accelerator.unwrap_model(trainer.unet).state_dict())
    shadow = dict(
        zip(
            [n for n, p in trainer.components.unet.named_parameters() if p.requires_grad],
            trainer.ema.shadow_params,
            strict=True,
        )
    )
    name = next(iter(shadow))
    torch.testing.assert_close(saved[name], shadow[name].cpu())  # the EMA weights are written
    assert not torch.equal(saved[name], live[name].cpu())
    names = sorted(p.name for p in result.validation_files)
    assert names == [
        "step_000002_0_low_hum.png",
        "step_000002_0_low_hum.wav",
        "step_000004_0_low_hum.png",
        "step_000004_0_low_hum.wav",
    ]
    audio, sr = sf.read(out / "validation" / "step_000004_0_low_hum.wav")
    assert sr == 44100 and len(audio) == 63 * 441
    assert all(p.requires_grad for p in trainer.trainable)  # validation gave the weights back


def test_bf16_mixed_precision_runs(
    tiny_dataset: Path, debug_model_dir: Path, tmp_path: Path
) -> None:
    result = train(
        config_for(
            tiny_dataset,
            debug_model_dir,
            tmp_path / "bf16",
            max_steps=2,
            mixed_precision="bf16",
            lora_rank=2,
        )
    )
    assert result.steps == 2 and all(np.isfinite(result.losses))


def test_cli_train(
    tiny_dataset: Path, debug_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = tmp_path / "c.toml"
    config_file.write_text('max_steps = 50\nlearning_rate = 1e-3\nlora_rank = 2\ndevice = "cpu"\n')
    out = tmp_path / "cli"
    args = ["train", str(tiny_dataset), "--base", str(debug_model_dir), "-o", str(out)]
    code = main(
        [
            *args,
            "--config",
            str(config_file),
            "--max-steps",
            "3",
            "--log-every",
            "1",
            "--no-progress",
            "--checkpoint-every",
            "0",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "step 3/3" in captured.out and "steps/s" in captured.out and "--lora" in captured.out
    saved = TrainConfig.load(out / "train_config.toml")
    assert saved.max_steps == 3 and saved.lora_rank == 2 and saved.learning_rate == 1e-3

    assert (
        main(["train", str(tmp_path / "nope"), "--base", str(debug_model_dir), "-o", str(out)]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dataset folder not found" in err
    assert main(["train", str(tiny_dataset), "-o", str(out)]) == 2
    assert "no base model" in capsys.readouterr().err
