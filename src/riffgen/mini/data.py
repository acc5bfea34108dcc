"""The synthetic training set rendered straight at the mini model's spectrogram parameters.

Same clips, captions, seeds and held-out test subsets as ``riffgen.synth.write_dataset``
(it reuses :func:`riffgen.synth.dataset.generate_clip` and ``clip_seed``), but the images are
made with the mini's :class:`SpectrogramParams` (128 mel rows) instead of riffusion's 512, and
every metadata row records those parameters under ``"spectrogram"`` so the trainer writes them
into the model (``riffgen.json``). FluidSynth runs on the CPU: make the data there, train on
any device.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from riffgen.audio import SpectrogramParams, audio_to_image
from riffgen.errors import RiffgenError
from riffgen.files import atomic_path
from riffgen.mini.config import MINI_SPECTROGRAM
from riffgen.synth.dataset import clip_seed, generate_clip
from riffgen.synth.split import DEFAULT_HOLDOUT

TEST_SUBSETS = ("seen", "heldout_template", "heldout_combo")


def params_dict(params: SpectrogramParams) -> dict:
    return {k: getattr(params, k) for k in params.__dataclass_fields__}


def _write_clip(job: tuple) -> dict:
    """Worker: render one clip and write its image; returns its metadata row."""
    split_dir, index, seed, subset, params_fields = job
    params = SpectrogramParams(**params_fields)
    clip = generate_clip(seed, subset=subset, holdout=DEFAULT_HOLDOUT)
    assert clip.audio is not None
    # Riffusion's images use the first 512 columns (5.11 s); the clip is exactly that long.
    image = audio_to_image(clip.audio, clip.sample_rate, params)
    name = f"{index:06d}.png"
    with atomic_path(Path(split_dir) / name) as tmp:
        image.save(tmp, format="PNG", exif=image.getexif())
    return {
        "file_name": name,
        "text": clip.caption,
        "subset": subset,
        "template": clip.template,
        "seed": clip.seed,
        "labels": clip.label,
        "spectrogram": params_fields,
    }


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
    if workers < 1:
        raise RiffgenError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    fields = params_dict(params)
    jobs = [(str(out / "train"), i, clip_seed(seed, "train", i), "train", fields) for i in range(n)]
    per_subset = n_test // len(TEST_SUBSETS)
    t = 0
    for subset in TEST_SUBSETS:
        for i in range(per_subset):
            jobs.append((str(out / "test"), t, clip_seed(seed, subset, i), subset, fields))
            t += 1
    for split in ("train", "test"):
        (out / split).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows: dict[str, list[dict]] = {"train": [], "test": []}
    pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
    results = pool.map(_write_clip, jobs, chunksize=4) if pool else map(_write_clip, jobs)
    try:
        for done, (job, row) in enumerate(zip(jobs, results, strict=True), 1):
            rows["train" if job[3] == "train" else "test"].append(row)
            if progress and (done % 100 == 0 or done == len(jobs)):
                rate = done / (time.perf_counter() - start)
                print(f"data: {done}/{len(jobs)} clips, {rate:.2f} clips/s", flush=True)
    finally:
        if pool:
            pool.shutdown()
    elapsed = time.perf_counter() - start
    for split, split_rows in rows.items():
        with atomic_path(out / split / "metadata.jsonl") as tmp, open(tmp, "w") as f:
            for row in split_rows:
                f.write(json.dumps(row, sort_keys=True) + "\n")
    info = {
        "seed": seed,
        "train": len(rows["train"]),
        "test": len(rows["test"]),
        "spectrogram": fields,
        "seconds": round(elapsed, 2),
        "clips_per_second": round(len(jobs) / elapsed, 3) if elapsed > 0 else None,
        "workers": workers,
    }
    with atomic_path(out / "info.json") as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n")
    return info


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
    fields = params_dict(params)
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
