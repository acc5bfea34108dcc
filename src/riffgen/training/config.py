"""Training settings: a dataclass read from TOML or YAML, overridden from the command line."""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riffgen.errors import RiffgenError
from riffgen.files import atomic_path

MIXED_PRECISION = ("no", "bf16", "fp16")
LR_SCHEDULERS = ("constant", "linear", "cosine")
PREDICTION_TYPES = ("epsilon", "v_prediction")
DEFAULT_LORA_TARGETS = ("to_k", "to_q", "to_v", "to_out.0")


@dataclass
class TrainConfig:
    """Everything ``riffgen train`` needs. Steps count optimizer updates (after accumulation)."""

    # Data, model, output.
    dataset: str = ""  # folder written by prepare-dataset (imagefolder with metadata.jsonl)
    base: str = ""  # diffusers folder, .safetensors/.ckpt file or hub id to start from
    output_dir: str = ""

    # What to train: the whole UNet (lora_rank 0) or LoRA adapters of this rank.
    lora_rank: int = 0
    lora_alpha: float | None = None  # None: = rank (scale 1)
    lora_dropout: float = 0.0
    lora_targets: list[str] = field(default_factory=lambda: list(DEFAULT_LORA_TARGETS))

    # Optimisation.
    max_steps: int = 1000
    batch_size: int = 1
    gradient_accumulation_steps: int = 1
    learning_rate: float | None = None  # None: 1e-4 for LoRA, 1e-5 for the full UNet
    lr_scheduler: str = "constant"
    warmup_steps: int = 0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_weight_decay: float = 1e-2
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"
    gradient_checkpointing: bool = False
    seed: int = 0

    # Diffusion objective.
    prediction_type: str | None = None  # None: the scheduler config's (epsilon for SD1.x)
    caption_dropout: float = 0.0  # probability of training on the empty prompt (for CFG)
    noise_offset: float = 0.0
    ema: bool = False
    ema_decay: float = 0.9999
    cache_latents: bool = False  # encode every image once (the VAE is frozen)

    # Checkpoints and resuming.
    checkpoint_every: int = 500  # 0: only the final output
    checkpoints_limit: int | None = 3  # keep this many newest checkpoints; None: all
    resume: str | None = None  # "latest" or a checkpoint folder

    # Validation and logging.
    validation_prompts: list[str] = field(default_factory=list)
    validation_every: int = 0  # steps; 0: only after training (when prompts are given)
    validation_steps: int = 25  # denoising steps per validation render
    validation_guidance: float = 7.0
    validation_seed: int = 0
    probe_every: int = 0  # steps; loss at fixed noise and timesteps on a fixed batch
    log_every: int = 10
    device: str | None = None  # None: accelerate's choice (GPU when there is one)
    cpu_threads: int | None = None  # torch intra-op threads; None: torch's default
    num_workers: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        self.validate()

    # ----------------------------------------------------------------- derived values

    @property
    def is_lora(self) -> bool:
        return self.lora_rank > 0

    @property
    def effective_learning_rate(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 1e-4 if self.is_lora else 1e-5

    @property
    def effective_lora_alpha(self) -> float:
        return float(self.lora_rank if self.lora_alpha is None else self.lora_alpha)

    # ----------------------------------------------------------------- checks

    def validate(self) -> None:
        """Raise :class:`RiffgenError` naming the first impossible value."""
        positive = ("max_steps", "batch_size", "gradient_accumulation_steps", "validation_steps")
        for name in positive:
            if getattr(self, name) < 1:
                raise RiffgenError(f"{name} must be at least 1, got {getattr(self, name)}")
        non_negative = (
            "lora_rank",
            "warmup_steps",
            "checkpoint_every",
            "validation_every",
            "probe_every",
            "log_every",
            "num_workers",
        )
        for name in non_negative:
            if getattr(self, name) < 0:
                raise RiffgenError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.cpu_threads is not None and self.cpu_threads < 1:
            raise RiffgenError(f"cpu_threads must be at least 1, got {self.cpu_threads}")
        if self.checkpoints_limit is not None and self.checkpoints_limit < 1:
            raise RiffgenError(
                f"checkpoints_limit must be at least 1, got {self.checkpoints_limit}"
            )
        if self.learning_rate is not None and not (
            self.learning_rate > 0 and math.isfinite(self.learning_rate)
        ):
            raise RiffgenError(f"learning_rate must be > 0, got {self.learning_rate}")
        for name in ("caption_dropout", "lora_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise RiffgenError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0.0 < self.ema_decay < 1.0:
            raise RiffgenError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise RiffgenError(
                f"mixed_precision must be one of {', '.join(MIXED_PRECISION)}, got {self.mixed_precision!r}"
            )
        if self.lr_scheduler not in LR_SCHEDULERS:
            raise RiffgenError(
                f"lr_scheduler must be one of {', '.join(LR_SCHEDULERS)}, got {self.lr_scheduler!r}"
            )
        if self.prediction_type is not None and self.prediction_type not in PREDICTION_TYPES:
            raise RiffgenError(
                f"prediction_type must be one of {', '.join(PREDICTION_TYPES)}, got {self.prediction_type!r}"
            )
        if self.is_lora and not self.lora_targets:
            raise RiffgenError("lora_targets is empty: name the UNet modules to adapt")

    # ----------------------------------------------------------------- reading

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Settings from a mapping; keys may use dashes; unknown keys are refused."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        unknown = []
        for raw_key, value in data.items():
            key = str(raw_key).replace("-", "_")
            if key not in fields:
                unknown.append(str(raw_key))
                continue
            values[key] = _coerce(key, value, hints[key])
        if unknown:
            raise RiffgenError(
                f"unknown training setting(s): {', '.join(sorted(unknown))}"
                f" (known: {', '.join(sorted(fields))})"
            )
        return cls(**values)

    @classmethod
    def load(
        cls, path: str | Path | None, overrides: Mapping[str, Any] | None = None
    ) -> TrainConfig:
        """Read ``path`` (.toml, .yaml/.yml or .json), then apply ``overrides`` on top.

        A ``[train]`` table, if present, is used instead of the top level.
        """
        data: dict[str, Any] = dict(read_settings_file(path)) if path else {}
        data.update({k.replace("-", "_"): v for k, v in (overrides or {}).items()})
        return cls.from_dict(data)

    # ----------------------------------------------------------------- writing

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> Path:
        """Write the settings as TOML (or JSON for a .json path), atomically."""
        path = Path(path)
        text = (
            json.dumps(self.to_dict(), indent=2) + "\n" if path.suffix == ".json" else to_toml(self)
        )
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return path


def read_settings_file(path: str | Path) -> Mapping[str, Any]:
    """Parse a TOML, YAML or JSON settings file into a mapping."""
    path = Path(path)
    if not path.is_file():
        raise RiffgenError(f"config file not found: {path}")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise RiffgenError(f"config file {path} must end in .toml, .yaml, .yml or .json")
    except RiffgenError:
        raise
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RiffgenError(f"cannot parse config file {path}: {first}") from None
    if not isinstance(data, Mapping):
        raise RiffgenError(f"config file {path} must hold a table of settings")
    if isinstance(data.get("train"), Mapping):
        data = data["train"]
    return data


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Check ``value`` against the field type; ints are accepted for floats."""
    args = typing.get_args(hint)
    optional = type(None) in args
    if value is None:
        if optional:
            return None
        raise RiffgenError(f"setting {key} cannot be empty")
    base = hint
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        base = next(a for a in args if a is not type(None))
    if typing.get_origin(base) is list:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise RiffgenError(f"setting {key} must be a list of strings, got {value!r}")
        return list(value)
    if base is bool:
        if isinstance(value, bool):
            return value
        raise RiffgenError(f"setting {key} must be true or false, got {value!r}")
    if base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise RiffgenError(f"setting {key} must be an integer, got {value!r}")
    if base is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML reads 1e-4 as a string
            except ValueError:
                pass
        raise RiffgenError(f"setting {key} must be a number, got {value!r}")
    if base is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise RiffgenError(f"setting {key} must be a string, got {value!r}")
    return value


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def to_toml(config: TrainConfig) -> str:
    """The settings as a flat TOML document (unset optional values as comments)."""
    lines = ["# riffgen train settings (load with: riffgen train --config THIS_FILE)"]
    for key, value in config.to_dict().items():
        if value is None:
            lines.append(f"# {key} = (unset)")
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
