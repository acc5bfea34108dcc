"""Training settings: a dataclass read from TOML, YAML or JSON, overridden from the command line.

Values are checked by pydantic (strictly, with the few conversions settings files need) and
written as TOML by tomli-w.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pydantic
import tomli_w
from pydantic import BeforeValidator, Strict

from riffgen.errors import RiffgenError
from riffgen.files import atomic_path

MIXED_PRECISION = ("no", "bf16", "fp16")
LR_SCHEDULERS = ("constant", "linear", "cosine")
PREDICTION_TYPES = ("epsilon", "v_prediction")
DEFAULT_LORA_TARGETS = ("to_k", "to_q", "to_v", "to_out.0")


# Field types as pydantic checks them: strictly (a bool is no number, "ten" no count), plus the
# few conversions that settings files need.
def _whole_float_to_int(value: Any) -> Any:
    # TOML and YAML read 1e3 as a float; a whole one is a fine count.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _numeric_string_to_float(value: Any) -> Any:
    # PyYAML (YAML 1.1) reads 1e-4, with no dot, as a string.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def _number_to_str(value: Any) -> Any:
    # An unquoted name or revision that looks like a number (output_dir = 2024).
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _one_string_to_list(value: Any) -> Any:
    # validation_prompts = "jazz" means one prompt.
    if isinstance(value, str):
        return [value]
    return list(value) if isinstance(value, tuple) else value


Int = Annotated[int, Strict(), BeforeValidator(_whole_float_to_int)]
Float = Annotated[float, Strict(), BeforeValidator(_numeric_string_to_float)]
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict(), BeforeValidator(_number_to_str)]
Strings = Annotated[list[Annotated[str, Strict()]], Strict(), BeforeValidator(_one_string_to_list)]

# What a pydantic error type means, in the words of riffgen's messages.
_EXPECTED = {
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list of strings",
}


@dataclass
class TrainConfig:
    """Everything ``riffgen train`` needs. Steps count optimizer updates (after accumulation)."""

    # Data, model, output.
    dataset: Str = ""  # folder written by prepare-dataset (imagefolder with metadata.jsonl)
    base: Str = ""  # diffusers folder, .safetensors/.ckpt file or hub id to start from
    output_dir: Str = ""

    # What to train: the whole UNet (lora_rank 0) or LoRA adapters of this rank.
    lora_rank: Int = 0
    lora_alpha: Float | None = None  # None: = rank (scale 1)
    lora_dropout: Float = 0.0
    lora_targets: Strings = field(default_factory=lambda: list(DEFAULT_LORA_TARGETS))

    # Optimisation.
    max_steps: Int = 1000
    batch_size: Int = 1
    gradient_accumulation_steps: Int = 1
    learning_rate: Float | None = None  # None: 1e-4 for LoRA, 1e-5 for the full UNet
    lr_scheduler: Str = "constant"
    warmup_steps: Int = 0
    adam_beta1: Float = 0.9
    adam_beta2: Float = 0.999
    adam_weight_decay: Float = 1e-2
    adam_epsilon: Float = 1e-8
    max_grad_norm: Float = 1.0
    mixed_precision: Str = "no"
    gradient_checkpointing: Bool = False
    seed: Int = 0

    # Diffusion objective.
    prediction_type: Str | None = None  # None: the scheduler config's (epsilon for SD1.x)
    caption_dropout: Float = 0.0  # probability of training on the empty prompt (for CFG)
    noise_offset: Float = 0.0
    ema: Bool = False
    ema_decay: Float = 0.9999
    cache_latents: Bool = False  # encode every image once (the VAE is frozen)

    # Checkpoints and resuming.
    checkpoint_every: Int = 500  # 0: only the final output
    checkpoints_limit: Int | None = 3  # keep this many newest checkpoints; None: all
    resume: Str | None = None  # "latest" or a checkpoint folder

    # Validation and logging.
    validation_prompts: Strings = field(default_factory=list)
    validation_every: Int = 0  # steps; 0: only after training (when prompts are given)
    validation_steps: Int = 25  # denoising steps per validation render
    validation_guidance: Float = 7.0
    validation_seed: Int = 0
    probe_every: Int = 0  # steps; loss at fixed noise and timesteps on a fixed batch
    log_every: Int = 10
    device: Str | None = None  # None: accelerate's choice (GPU when there is one)
    cpu_threads: Int | None = None  # torch intra-op threads; None: torch's default
    num_workers: Int = 0
    progress: Bool = True

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
        values: dict[str, Any] = {}
        unknown = []
        for raw_key, value in data.items():
            key = str(raw_key).replace("-", "_")
            if key not in fields:
                unknown.append(str(raw_key))
                continue
            values[key] = _check_value(key, value)
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


@functools.cache
def _adapters() -> dict[str, pydantic.TypeAdapter]:
    """One pydantic validator per TrainConfig field (built on first use: a few ms each)."""
    hints = typing.get_type_hints(TrainConfig, include_extras=True)
    return {f.name: pydantic.TypeAdapter(hints[f.name]) for f in dataclasses.fields(TrainConfig)}


def _check_value(key: str, value: Any) -> Any:
    """``value`` as the type of field ``key``, or a one-line :class:`RiffgenError`.

    Fields are checked one by one, so that TrainConfig's own checks (``validate``) still run in
    its constructor, and raise as they always did.
    """
    try:
        return _adapters()[key].validate_python(value)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        if value is None:
            raise RiffgenError(f"setting {key} cannot be empty") from None
        kind = "list_type" if error["loc"] else error["type"]  # loc: the index of a bad item
        expected = _EXPECTED.get(kind, error["msg"])
        raise RiffgenError(f"setting {key} {expected}, got {value!r}") from None


def to_toml(config: TrainConfig) -> str:
    """The settings as a flat TOML document (unset optional values as comments)."""
    lines = ["# riffgen train settings (load with: riffgen train --config THIS_FILE)"]
    for key, value in config.to_dict().items():
        # TOML has no null: an unset value stays a comment, and loads as the default (None).
        lines.append(
            f"# {key} = (unset)" if value is None else tomli_w.dumps({key: value}).rstrip()
        )
    return "\n".join(lines) + "\n"
