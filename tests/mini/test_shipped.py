"""``--model mini`` resolution and its one clear error before `make train-mini` has run."""

from __future__ import annotations

import pytest
import torch

from riffgen.errors import RiffgenError
from riffgen.models import registry


def test_missing_weights_error_names_make_train_mini(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "shipped_mini_dir", lambda: tmp_path / "models" / "mini")
    with pytest.raises(RiffgenError, match="make train-mini"):
        registry.load_components("mini", dtype=torch.float32)


def test_pipeline_reports_the_same_error(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "shipped_mini_dir", lambda: tmp_path)
    from riffgen.diffusion import RiffgenPipeline

    with pytest.raises(RiffgenError, match="make train-mini"):
        RiffgenPipeline.from_pretrained("mini", device="cpu", dtype="fp32")


def test_shipped_dir_is_package_data():
    path = registry.shipped_mini_dir()
    assert path.parts[-3:] == ("data", "models", "mini")
