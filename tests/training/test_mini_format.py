"""LoRA on the mini model trains on the mini's own spectrogram format (128 mel rows)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from riffgen.cli import main
from riffgen.errors import RiffgenError
from riffgen.models.registry import resolve_mini, spectrogram_params_of


def _rows(dataset: Path) -> list[dict]:
    lines = (dataset / "train" / "metadata.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture
def mini_dataset(audio_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "mini-ds"
    args = ["prepare-dataset", str(audio_dir), str(out), "--clip-seconds", "1.28"]
    assert main([*args, "--model", "mini", "--no-progress"]) == 0
    return out


def test_prepare_dataset_writes_the_models_format(mini_dataset: Path) -> None:
    mini = spectrogram_params_of("mini")
    assert mini.num_frequencies == 128
    rows = _rows(mini_dataset)
    assert rows and all(r["spectrogram"]["num_frequencies"] == 128 for r in rows)
    with Image.open(mini_dataset / "train" / rows[0]["file_name"]) as image:
        assert image.size == (128, 128)  # 1.28 s of 10 ms columns, the mini's 128 mel rows


def test_prepare_dataset_model_conflicts_and_unknown_models(
    audio_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["prepare-dataset", str(audio_dir), str(tmp_path / "o"), "--model", "mini"]
    assert main([*base, "--stereo"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--stereo cannot be combined with --model" in err
    assert main([*base[:-1], str(tmp_path / "no-such-model")]) == 2
    assert "model not found" in capsys.readouterr().err


def test_lora_on_mini_refuses_riffusion_size_images(audio_dir: Path, tmp_path: Path) -> None:
    from riffgen.training.config import TrainConfig
    from riffgen.training.trainer import Trainer

    big = tmp_path / "riffusion-ds"
    args = ["prepare-dataset", str(audio_dir), str(big), "--clip-seconds", "1.28", "--no-progress"]
    assert main(args) == 0
    config = TrainConfig(
        dataset=str(big), base="mini", output_dir=str(tmp_path / "out"), lora_rank=4, max_steps=1
    )
    with pytest.raises(RiffgenError, match=r"512 mel rows but mini makes 128.*--model mini"):
        Trainer(config)


def test_lora_on_mini_trains_and_changes_what_mini_makes(
    mini_dataset: Path, tmp_path: Path
) -> None:
    from riffgen.diffusion import RiffgenPipeline
    from riffgen.training.config import TrainConfig
    from riffgen.training.trainer import train

    out = tmp_path / "lora"
    config = TrainConfig(
        dataset=str(mini_dataset),
        base="mini",
        output_dir=str(out),
        lora_rank=4,
        max_steps=4,
        batch_size=1,
        learning_rate=5e-2,
        progress=False,
        seed=0,
    )
    assert train(config).mode == "lora"
    kwargs = {"seed": 1, "num_inference_steps": 3, "width": 128}
    base = RiffgenPipeline.from_pretrained(str(resolve_mini()), device="cpu", dtype="fp32")
    tuned = RiffgenPipeline.from_pretrained(
        str(resolve_mini()), lora=str(out), device="cpu", dtype="fp32"
    )
    before = base.text_to_audio("jazz, smooth sax", **kwargs).image
    after = tuned.text_to_audio("jazz, smooth sax", **kwargs).image
    assert after.size == (128, 128)
    assert np.abs(np.asarray(before, float) - np.asarray(after, float)).mean() > 0.5
