"""The synthetic training set rendered straight at the mini model's spectrogram parameters.

Same clips, captions, seeds and held-out test subsets as ``riffgen.synth.write_dataset``
(it is that function with other ``params``), but the images are
made with the mini's :class:`SpectrogramParams` (128 mel rows) instead of riffusion's 512, and
every metadata row records those parameters under ``"spectrogram"`` so the trainer writes them
into the model (``riffgen.json``). FluidSynth runs on the CPU: make the data there, train on
any device.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from riffgen.audio import SpectrogramParams
from riffgen.errors import RiffgenError
from riffgen.files import atomic_path
from riffgen.mini.config import MINI_SPECTROGRAM
from riffgen.synth.dataset import write_dataset

TEST_SUBSETS = ("seen", "heldout_template", "heldout_combo")


def write_mini_dataset(
    out: str | os.PathLike[str],
    *,
    n: int,
    seed: int = 0,
    n_test: int = 0,
    workers: int = 2,
    params: SpectrogramParams = MINI_SPECTROGRAM,
    progress: bool = False,
) -> dict:
    """Write ``n`` training clips (``out/train``) and ``n_test`` test clips split evenly over
    the seen / held-out subsets (``out/test``); return the summary written to ``out/info.json``.
    """
    if n < 1:
        raise RiffgenError(f"the dataset needs at least 1 training clip, got {n}")
    return write_dataset(
        out, n=n, seed=seed, n_test=n_test, workers=workers, params=params, progress=progress
    )


def dataset_height(dataset_dir: str | os.PathLike[str]) -> int:
    """Mel rows (image height) of a dataset's training images."""
    from riffgen.training.data import SpectrogramDataset

    return SpectrogramDataset(dataset_dir).size[1]


def convert_dataset(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    params: SpectrogramParams = MINI_SPECTROGRAM,
) -> Path:
    """Rewrite a dataset made at another mel count (e.g. the synth's riffusion 512) at
    ``params``: each image's mel amplitudes are averaged over groups of rows (a coarser mel
    filterbank over the same 0-10 kHz is close to the sum of adjacent finer bands), then
    re-encoded. Other metadata is kept; ``"spectrogram"`` records ``params``.
    """
    import numpy as np
    import torch
    from PIL import Image

    from riffgen.audio.image import image_from_mel, mel_from_image, params_from_image
    from riffgen.training.data import find_metadata

    src, dst = Path(src), Path(dst)
    fields = dataclasses.asdict(params)
    for split in ("train", "test"):
        metadata = src / split / "metadata.jsonl"
        if split == "train":
            metadata = find_metadata(src)
        if not metadata.is_file():
            continue
        out_dir = dst / split
        out_dir.mkdir(parents=True, exist_ok=True)
        rows = [json.loads(line) for line in metadata.read_text().splitlines() if line.strip()]
        for row in rows:
            with Image.open(metadata.parent / row["file_name"]) as image:
                source_params = params_from_image(image)
                mel = mel_from_image(image, source_params)
            resized = torch.nn.functional.adaptive_avg_pool2d(
                torch.from_numpy(mel)[None], (params.num_frequencies, mel.shape[-1])
            )[0].numpy()
            converted = image_from_mel(np.ascontiguousarray(resized), params)
            with atomic_path(out_dir / row["file_name"]) as tmp:
                converted.save(tmp, format="PNG", exif=converted.getexif())
            row["spectrogram"] = fields
        with atomic_path(out_dir / "metadata.jsonl") as tmp, open(tmp, "w") as f:
            for row in rows:
                f.write(json.dumps(row, sort_keys=True) + "\n")
    return dst
