"""TrainConfig: TOML/YAML/JSON files, command-line overrides, checks, round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from riffgen.errors import RiffgenError
from riffgen.training.config import TrainConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_config.toml"


def test_example_config_loads() -> None:
    config = TrainConfig.load(EXAMPLE)
    assert config.is_lora and config.lora_rank == 16 and config.mixed_precision == "bf16"
    assert config.validation_prompts and config.dataset and config.base and config.output_dir


def test_overrides_win_and_round_trip(tmp_path: Path) -> None:
    config = TrainConfig.load(EXAMPLE, {"max-steps": 7, "lora_rank": 0, "learning_rate": None})
    assert config.max_steps == 7 and not config.is_lora
    assert config.effective_learning_rate == 1e-5  # default for full fine-tunes
    for name in ("saved.toml", "saved.json"):
        config.save(tmp_path / name)
        assert TrainConfig.load(tmp_path / name) == config


def test_yaml_and_train_table(tmp_path: Path) -> None:
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text(
        "train:\n  lora-rank: 4\n  learning_rate: 1e-4\n  validation_prompts: jazz\n"
    )
    config = TrainConfig.load(yaml_file)
    assert config.lora_rank == 4 and config.learning_rate == 1e-4
    assert config.validation_prompts == ["jazz"]
    assert config.effective_lora_alpha == 4.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_stepz = 3\n", "unknown training setting"),
        ("max_steps = 0\n", "max_steps must be at least 1"),
        ('max_steps = "ten"\n', "must be an integer"),
        ('mixed_precision = "fp8"\n', "mixed_precision must be one of"),
        ("caption_dropout = 1.5\n", "caption_dropout must be in"),
        ("ema = 1\n", "true or false"),
        ("max_steps = [\n", "cannot parse config file"),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(RiffgenError, match=message) as info:
        TrainConfig.load(path)
    assert "\n" not in str(info.value)


def test_missing_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(RiffgenError, match="not found"):
        TrainConfig.load(tmp_path / "none.toml")
    (tmp_path / "c.ini").write_text("")
    with pytest.raises(RiffgenError, match=".toml, .yaml"):
        TrainConfig.load(tmp_path / "c.ini")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_steps": "ten"}, "setting max_steps must be an integer, got 'ten'"),
        ({"max_steps": 2.5}, "setting max_steps must be an integer, got 2.5"),
        ({"lora_rank": True}, "setting lora_rank must be an integer, got True"),
        ({"ema": 1}, "setting ema must be true or false, got 1"),
        ({"learning_rate": True}, "setting learning_rate must be a number, got True"),
        ({"adam_beta1": "high"}, "setting adam_beta1 must be a number, got 'high'"),
        ({"base": ["a"]}, "setting base must be a string, got ['a']"),
        (
            {"lora_targets": ["to_k", 2]},
            "setting lora_targets must be a list of strings, got ['to_k', 2]",
        ),
        ({"validation_prompts": 3}, "setting validation_prompts must be a list of strings, got 3"),
        ({"max_steps": None}, "setting max_steps cannot be empty"),
    ],
)
def test_bad_value_message_names_the_setting_and_value(settings, message: str) -> None:
    with pytest.raises(RiffgenError) as info:
        TrainConfig.from_dict(settings)
    assert str(info.value) == message


def test_loosely_written_values_are_converted() -> None:
    config = TrainConfig.from_dict(
        {
            "max_steps": 1e3,  # TOML/YAML float, whole
            "learning_rate": "1e-4",  # PyYAML's string for 1e-4
            "adam_epsilon": 1,
            "output_dir": 2024,
            "lora_targets": ("to_k",),
            "validation_prompts": "jazz",
        }
    )
    assert config.max_steps == 1000 and type(config.max_steps) is int
    assert config.learning_rate == 1e-4 and type(config.adam_epsilon) is float
    assert config.output_dir == "2024"
    assert config.lora_targets == ["to_k"] and config.validation_prompts == ["jazz"]


def test_saved_toml_keeps_unset_values_as_comments(tmp_path: Path) -> None:
    path = TrainConfig(validation_prompts=['say "hi"', "ü"]).save(tmp_path / "c.toml")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# riffgen train settings")
    assert "# learning_rate = (unset)" in text
    assert TrainConfig.load(path) == TrainConfig(validation_prompts=['say "hi"', "ü"])
