"""Train and check the instrument classifier on a synthetic dataset (``write_dataset`` layout)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from riffgen.errors import RiffgenError
from riffgen.evaluation.classifier import ClassifierTrainConfig, InstrumentClassifier
from riffgen.evaluation.features import features_from_mel, mel_from_clip_image, single_thread
from riffgen.evaluation.report import EvalReport, as_truth, score, score_groups
from riffgen.evaluation.tempo import estimate_tempo_from_mel
from riffgen.synth.dataset import read_metadata


def load_split(split_dir: str | os.PathLike[str], *, tempo: bool = False) -> dict:
    """Features, labels and (optionally) estimated tempos of every image in ``split_dir``.

    Returns ``{"features": (n, d), "rows": metadata rows, "tempos": [BPM or None]}``;
    tempos are estimated only for rhythmic clips.
    """
    split_dir = Path(split_dir)
    rows = read_metadata(split_dir)
    feats, tempos = [], []
    for row in rows:
        with Image.open(split_dir / row["file_name"]) as image:
            image.load()
            with single_thread():
                mel = mel_from_clip_image(image)
        feats.append(features_from_mel(mel))
        rhythmic = tempo and as_truth(row["labels"]).rhythmic
        tempos.append(estimate_tempo_from_mel(mel) if rhythmic else None)
    if not rows:
        raise RiffgenError(f"{split_dir} holds no clips")
    return {"features": np.stack(feats), "rows": rows, "tempos": tempos}


def train_on_dataset(
    data_dir: str | os.PathLike[str], *, config: ClassifierTrainConfig | None = None
) -> InstrumentClassifier:
    """Fit the classifier on ``data_dir/train``."""
    train = load_split(Path(data_dir) / "train")
    labels = [row["labels"]["families"] for row in train["rows"]]
    return InstrumentClassifier.fit(train["features"], labels, config=config)


def evaluate_split(
    classifier: InstrumentClassifier, split: dict, *, by: str = "subset"
) -> dict[str, EvalReport]:
    """Reports for a loaded split, one per value of metadata field ``by`` plus ``"all"``."""
    preds = classifier.predict(split["features"])
    truths = [as_truth(r["labels"]) for r in split["rows"]]
    keys = [str(row.get(by, "?")) for row in split["rows"]]
    args = (preds, truths, split["tempos"], classifier.families)
    return {"all": score(*args), **score_groups(keys, *args)}


def main(argv: list[str] | None = None) -> int:
    import argparse

    from riffgen.evaluation.report import PromptSetRow, format_table

    parser = argparse.ArgumentParser(
        prog="python -m riffgen.evaluation",
        description="Train / check the instrument-family classifier on a synthetic dataset.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train on DATA/train, report on DATA/test")
    p_train.add_argument("--data", required=True, help="dataset dir from make_synth_dataset.py")
    p_train.add_argument("--out", required=True, help="weights file (.safetensors)")
    p_train.add_argument("--epochs", type=int, default=ClassifierTrainConfig.epochs)
    p_eval = sub.add_parser("check", help="report a trained classifier on DATA/test")
    p_eval.add_argument("--data", required=True)
    p_eval.add_argument("--weights", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            t0 = time.perf_counter()
            clf = train_on_dataset(args.data, config=ClassifierTrainConfig(epochs=args.epochs))
            clf.save(args.out)
            print(f"trained in {time.perf_counter() - t0:.1f} s -> {args.out}")
        else:
            clf = InstrumentClassifier.load(args.weights)
        test = load_split(Path(args.data) / "test", tempo=True)
        reports = evaluate_split(clf, test)
    except RiffgenError as exc:
        print(f"error: {exc}")
        return 2
    rows = [
        PromptSetRow(name, r.n, None, r.top1, r.chance, real_tempo=r.tempo_strict)
        for name, r in reports.items()
    ]
    print(format_table(rows))
    for name, r in reports.items():
        print(f"{name}: {r.summary()}")
    return 0
