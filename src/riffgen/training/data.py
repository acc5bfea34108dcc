"""Reading a prepared dataset (imagefolder with metadata.jsonl) for training."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from riffgen.audio import SpectrogramParams
from riffgen.errors import RiffgenError

CAPTION_COLUMNS = ("text", "caption")


def find_metadata(dataset_dir: Path) -> Path:
    """``DATASET/train/metadata.jsonl`` (prepare-dataset's layout) or ``DATASET/metadata.jsonl``."""
    for candidate in (dataset_dir / "train" / "metadata.jsonl", dataset_dir / "metadata.jsonl"):
        if candidate.is_file():
            return candidate
    raise RiffgenError(
        f"{dataset_dir} is not a prepared dataset (no train/metadata.jsonl);"
        " make one with `riffgen prepare-dataset AUDIO_DIR OUT_DIR`"
    )


class SpectrogramDataset(torch.utils.data.Dataset):
    """Images as ``[-1, 1]`` float tensors ``(3, H, W)`` with their captions.

    All images must share one size (prepare-dataset writes them so); the size is checked
    when the dataset is opened so a bad dataset fails before training starts.
    """

    def __init__(self, dataset_dir: str | Path) -> None:
        self.root = Path(dataset_dir)
        if not self.root.is_dir():
            raise RiffgenError(f"dataset folder not found: {self.root}")
        metadata = find_metadata(self.root)
        self.image_dir = metadata.parent
        self.rows: list[dict[str, Any]] = []
        for number, line in enumerate(metadata.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RiffgenError(f"{metadata}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or "file_name" not in row:
                raise RiffgenError(f"{metadata}:{number}: no file_name")
            self.rows.append(row)
        if not self.rows:
            raise RiffgenError(f"dataset {self.root} is empty ({metadata} lists no images)")
        missing = [
            r["file_name"] for r in self.rows if not (self.image_dir / r["file_name"]).is_file()
        ]
        if missing:
            raise RiffgenError(
                f"dataset {self.root}: {len(missing)} listed image(s) missing, e.g. {missing[0]}"
            )
        with Image.open(self.image_dir / self.rows[0]["file_name"]) as first:
            self.size = first.size  # (width, height)
        if self.size[0] % 8 or self.size[1] % 8:
            raise RiffgenError(
                f"dataset images are {self.size[0]}x{self.size[1]}: width and height must be"
                " multiples of 8 (the VAE downsamples by 8)"
            )

    def __len__(self) -> int:
        return len(self.rows)

    def caption(self, index: int) -> str:
        row = self.rows[index]
        for column in CAPTION_COLUMNS:
            if isinstance(row.get(column), str):
                return row[column]
        return ""

    def spectrogram_params(self) -> SpectrogramParams | None:
        """The parameters the images were made with (from metadata), if recorded."""
        params = self.rows[0].get("spectrogram")
        if not isinstance(params, dict):
            return None
        try:
            return SpectrogramParams(**params)
        except (TypeError, RiffgenError):
            return None

    def __getitem__(self, index: int) -> dict[str, Any]:
        path = self.image_dir / self.rows[index]["file_name"]
        with Image.open(path) as image:
            if image.size != self.size:
                raise RiffgenError(
                    f"{path.name} is {image.size[0]}x{image.size[1]}, the dataset's images are"
                    f" {self.size[0]}x{self.size[1]}"
                )
            rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
        pixels = torch.from_numpy(rgb).permute(2, 0, 1) / 127.5 - 1.0
        return {"pixel_values": pixels, "caption": self.caption(index), "index": index}


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "pixel_values": torch.stack([i["pixel_values"] for i in items]),
        "captions": [i["caption"] for i in items],
        "indices": torch.tensor([i["index"] for i in items]),
    }


class StepSampler(torch.utils.data.Sampler[int]):
    """Endless shuffled indices that depend only on (seed, position): resuming at sample
    ``start`` yields exactly what an uninterrupted run would have, without replaying data.

    Each epoch is a fresh permutation; with several processes each takes every
    ``num_replicas``-th index of the shared sequence.
    """

    def __init__(
        self, size: int, *, seed: int, start: int = 0, rank: int = 0, num_replicas: int = 1
    ) -> None:
        self.size, self.seed, self.start = size, seed, start
        self.rank, self.num_replicas = rank, num_replicas

    def _permutation(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.size, generator=generator)

    def __iter__(self) -> Iterator[int]:
        position = self.start * self.num_replicas + self.rank
        epoch, offset = divmod(position, self.size)
        order = self._permutation(epoch)
        while True:
            yield int(order[offset])
            offset += self.num_replicas
            while offset >= self.size:
                offset -= self.size
                epoch += 1
                order = self._permutation(epoch)
