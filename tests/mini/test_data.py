"""The mini dataset (rendered at 128 mels) and the conversion of riffusion-size datasets."""

from __future__ import annotations

import json

from PIL import Image

from riffgen.mini.data import convert_dataset, dataset_height, write_mini_dataset
from riffgen.models.configs import MINI_SPECTROGRAM
from riffgen.training.data import SpectrogramDataset


def test_mini_dataset_is_written_at_the_mini_params(tmp_path):
    info = write_mini_dataset(tmp_path, n=1, n_test=3, workers=1)
    assert (info["train"], info["test"]) == (1, 3)
    dataset = SpectrogramDataset(tmp_path)
    assert dataset.size == (512, MINI_SPECTROGRAM.num_frequencies)
    assert dataset.spectrogram_params() == MINI_SPECTROGRAM  # the trainer records these
    subsets = [json.loads(line)["subset"] for line in (tmp_path / "test" / "metadata.jsonl").open()]
    assert subsets == ["seen", "heldout_template", "heldout_combo"]


def test_riffusion_size_dataset_is_converted(tmp_path):
    from riffgen.synth import write_dataset

    write_dataset(tmp_path / "src", n=1, n_test=0, workers=1)
    assert dataset_height(tmp_path / "src") == 512
    out = convert_dataset(tmp_path / "src", tmp_path / "dst")
    dataset = SpectrogramDataset(out)
    assert dataset.size == (512, MINI_SPECTROGRAM.num_frequencies)
    assert dataset.spectrogram_params() == MINI_SPECTROGRAM
    assert dataset.caption(0) == SpectrogramDataset(tmp_path / "src").caption(0)
    with Image.open(out / "train" / dataset.rows[0]["file_name"]) as image:
        pixels = image.convert("L").getextrema()
    assert pixels[0] < 128 < pixels[1]  # real content survives, not a blank image
