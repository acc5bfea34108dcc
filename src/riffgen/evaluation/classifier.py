"""Instrument-family classifier: a small MLP on log-mel statistics, trained on rendered clips.

Multi-label (a clip may hold several families); its top-1 prediction is what prompt
adherence is scored on. Weights are a few hundred KB of safetensors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from riffgen.errors import RiffgenError
from riffgen.evaluation.features import FEATURE_VERSION, single_thread
from riffgen.files import atomic_path
from riffgen.synth.instruments import FAMILY_NAMES


class _Net(nn.Module):
    def __init__(self, n_in: int, n_out: int, hidden: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_in))
        self.register_buffer("std", torch.ones(n_in))
        self.body = nn.Sequential(
            nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, n_out)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - self.mean) / self.std)


@dataclass
class ClassifierTrainConfig:
    """Training settings: ``epochs`` full-batch Adam steps, ``lr``, L2 ``weight_decay``."""

    hidden: int = 256
    epochs: int = 400
    lr: float = 3e-3
    weight_decay: float = 1e-3
    seed: int = 0


class InstrumentClassifier:
    """Scores each instrument family's presence in a clip from its feature vector."""

    def __init__(
        self, families: Sequence[str] = FAMILY_NAMES, *, n_features: int, hidden: int = 256
    ):
        self.families = tuple(families)
        self.net = _Net(n_features, len(self.families), hidden)
        self.net.eval()

    # --- training -----------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        labels: Sequence[Sequence[str]],
        *,
        families: Sequence[str] = FAMILY_NAMES,
        config: ClassifierTrainConfig | None = None,
    ) -> InstrumentClassifier:
        """Train on ``features`` ``(n, d)`` and each clip's list of families (lead first).

        The lead family gets full weight; accompanying families half, so the top-1
        prediction tracks the instrument a caption leads with.
        """
        config = config or ClassifierTrainConfig()
        x = torch.as_tensor(np.asarray(features, dtype=np.float32))
        if x.ndim != 2 or x.shape[0] != len(labels) or x.shape[0] < 2:
            raise RiffgenError(
                f"need (n, d) features for n >= 2 labelled clips, got {tuple(x.shape)}"
            )
        model = cls(families, n_features=x.shape[1], hidden=config.hidden)
        y = torch.as_tensor(model._targets(labels))
        torch.manual_seed(config.seed)
        net = model.net
        net.mean.copy_(x.mean(0))
        net.std.copy_(x.std(0).clamp_min(1e-3))
        for p in net.body.parameters():  # re-initialise under the seed for determinism
            if p.dim() > 1:
                nn.init.kaiming_uniform_(p, a=5**0.5)
            else:
                nn.init.zeros_(p)
        opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        loss_fn = nn.BCEWithLogitsLoss()
        net.train()
        with single_thread():
            for _ in range(config.epochs):
                opt.zero_grad()
                loss = loss_fn(net(x), y)
                loss.backward()
                opt.step()
        net.eval()
        return model

    def _targets(self, labels: Sequence[Sequence[str]]) -> np.ndarray:
        index = {f: i for i, f in enumerate(self.families)}
        y = np.zeros((len(labels), len(self.families)), dtype=np.float32)
        for row, fams in enumerate(labels):
            for j, fam in enumerate(fams):
                if fam not in index:
                    raise RiffgenError(f"unknown instrument family {fam!r}")
                y[row, index[fam]] = max(y[row, index[fam]], 1.0 if j == 0 else 0.5)
        return y

    # --- inference ----------------------------------------------------------------------
    @torch.no_grad()
    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Per-family presence probabilities ``(n, n_families)``."""
        x = torch.as_tensor(np.atleast_2d(np.asarray(features, dtype=np.float32)))
        with single_thread():
            return torch.sigmoid(self.net(x)).numpy()

    def predict(self, features: np.ndarray) -> list[str]:
        """The top-1 family of each clip."""
        return [self.families[i] for i in self.predict_proba(features).argmax(axis=1)]

    # --- persistence --------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write weights and metadata (families, feature version) as safetensors, atomically."""
        tensors = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        hidden = self.net.body[0].out_features
        meta = {
            "families": json.dumps(list(self.families)),
            "feature_version": FEATURE_VERSION,
            "hidden": str(hidden),
        }
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> InstrumentClassifier:
        """Read weights written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise RiffgenError(f"classifier weights not found: {path}")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        except Exception as exc:
            raise RiffgenError(f"cannot read classifier weights {path}: {exc}") from None
        if meta.get("feature_version") != FEATURE_VERSION:
            raise RiffgenError(
                f"{path} was trained on features {meta.get('feature_version')!r}, "
                f"this riffgen computes {FEATURE_VERSION!r}: retrain it"
            )
        families = json.loads(meta["families"])
        model = cls(families, n_features=tensors["mean"].numel(), hidden=int(meta["hidden"]))
        model.net.load_state_dict(tensors)
        model.net.eval()
        return model
